import assert from "node:assert/strict";
import { encodePeerMessage, MAX_CHAT_LENGTH, parsePeerMessage } from "../client/peer_message.ts";
import { randomRoomName } from "../client/room_name.ts";
import { Signaling, signalingUrl } from "../client/signaling.ts";
import { CallModel, cleanName, MAX_ANNOUNCEMENTS, MAX_CHAT_MESSAGES } from "../client/store.ts";
import { isValidChannel } from "../lib/protocol.ts";
import { FakeSocket } from "./_helpers.ts";

Deno.test("cleanName trims, caps and strips control and bidi characters", () => {
  assert.equal(cleanName("  Ann  "), "Ann");
  assert.equal(
    cleanName("Al\u200bi\u200dc\u200fe\ufeff\u061c\u2060"),
    "Alice",
    "invisible characters",
  );
  assert.equal(cleanName("a\u202eb\u0000c"), "abc");
  assert.equal(cleanName("x".repeat(100)).length, 40);
  assert.equal(cleanName(""), "Guest");
  assert.equal(cleanName(42), "Guest");
  assert.equal(
    cleanName("<b>hi</b>"),
    "<b>hi</b>",
    "kept as text; rendering escapes it",
  );
});

Deno.test("CallModel starts in the lobby without a room and in pre-join with one", () => {
  assert.equal(new CallModel({ room: null, name: "" }).phase.value, "lobby");
  const store = new CallModel({ room: "r", name: "Ann" });
  assert.equal(store.phase.value, "prejoin");
  assert.equal(store.name.value, "Ann");
});

Deno.test("CallModel keeps participants immutable per change and forgets them on leaving", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  store.setPhase("in-call");
  store.addParticipant("p1", "Bob");
  const first = store.participants.value;
  store.patchParticipant("p1", { micOn: false });
  assert.notEqual(store.participants.value, first, "a new Map so signals fire");
  assert.equal(store.participants.value.get("p1")?.micOn, false);
  store.patchParticipant("nobody", { micOn: false });
  store.addParticipant("p1", "Impostor");
  assert.equal(store.participants.value.get("p1")?.name, "Bob");
  store.addChat({ from: "p1", name: "Bob", text: "hi", at: 0 });
  store.setPhase("prejoin");
  assert.equal(store.participants.value.size, 0);
  assert.deepEqual(store.chat.value, []);
});

Deno.test("CallModel keeps the last 200 chat lines and counts unread ones while hidden", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  for (let i = 0; i < MAX_CHAT_MESSAGES + 5; i++) {
    store.addChat({ from: "p1", name: "Bob", text: `m${i}`, at: i }, {
      panelOpen: false,
    });
  }
  assert.equal(store.chat.value.length, MAX_CHAT_MESSAGES);
  assert.equal(store.chat.value[0].text, "m5");
  assert.equal(store.unread.value, MAX_CHAT_MESSAGES + 5);
  store.addChat({ from: null, name: "Ann", text: "mine", at: 0 }, {
    panelOpen: false,
  });
  assert.equal(
    store.unread.value,
    MAX_CHAT_MESSAGES + 5,
    "own lines are never unread",
  );
  store.markChatRead();
  assert.equal(store.unread.value, 0);
});

Deno.test("CallModel announces joins, leaves, others' messages and new hands, keeping the last few", () => {
  const store = new CallModel({ room: "r", name: "Ann" });
  const said = () => store.announcements.value.map((a) => a.text);
  store.addParticipant("p1", "Bob", { announce: true });
  store.addParticipant("p2", "Cid");
  store.addParticipant("p1", "Bob", { announce: true }); // already here
  assert.deepEqual(said(), ["Bob joined"]);
  store.patchParticipant("p1", { handRaised: true });
  store.patchParticipant("p1", { handRaised: true, micOn: false });
  store.patchParticipant("p1", { quality: null });
  assert.deepEqual(said(), ["Bob joined", "Bob raised a hand"], "a hand once, nothing else");
  store.addChat({ from: null, name: "Ann", text: "mine", at: 0 });
  store.addChat({ from: "p2", name: "Cid", text: "hello", at: 0 });
  store.removeParticipant("p2");
  store.removeParticipant("p1", { announce: false });
  assert.deepEqual(said().slice(2), ["Message from Cid: hello", "Cid left"]);
  for (let i = 0; i < 10; i++) store.addChat({ from: "p9", name: "Dee", text: `${i}`, at: 0 });
  assert.equal(said().length, MAX_ANNOUNCEMENTS);
  assert.equal(said().at(-1), "Message from Dee: 9");
  const ids = store.announcements.value.map((a) => a.id);
  assert.equal(new Set(ids).size, ids.length, "each announcement has its own key");
  store.setPhase("prejoin");
  assert.deepEqual(said(), [], "leaving the call forgets them");
});

Deno.test("parsePeerMessage accepts chat and state and refuses the rest", () => {
  assert.deepEqual(
    parsePeerMessage(encodePeerMessage({ type: "chat", text: " hi " })),
    {
      type: "chat",
      text: "hi",
    },
  );
  assert.deepEqual(
    parsePeerMessage('{"type":"state","mic":false,"cam":true,"x":1}'),
    { type: "state", mic: false, cam: true, hand: false, screen: null },
  );
  assert.deepEqual(
    parsePeerMessage('{"type":"state","mic":true,"cam":true,"hand":true,"screen":"s1"}'),
    { type: "state", mic: true, cam: true, hand: true, screen: "s1" },
  );
  const long = parsePeerMessage(
    JSON.stringify({ type: "chat", text: "x".repeat(3000) }),
  );
  assert.equal(long?.type === "chat" && long.text.length, MAX_CHAT_LENGTH);
  for (
    const bad of [
      "",
      "null",
      "[]",
      '{"type":"chat"}',
      '{"type":"chat","text":"  "}',
      '{"type":"x"}',
      5,
    ]
  ) {
    assert.equal(parsePeerMessage(bad), undefined, String(bad));
  }
});

Deno.test("randomRoomName makes valid, readable channel names", () => {
  assert.equal(randomRoomName(() => [0, 1, 0, 42]), "amber-beacon-000000000001a");
  assert.equal(
    randomRoomName(() => [0, 1, 0xffffffff, 0xffffffff]),
    "amber-beacon-fzzzzzzzzzzzz",
    "all 64 bits reach the name",
  );
  const seen = new Set(Array.from({ length: 200 }, () => randomRoomName().split("-")[2]));
  assert.equal(seen.size, 200, "the random part does not repeat");
  for (let i = 0; i < 50; i++) assert.ok(isValidChannel(randomRoomName()));
});

Deno.test("signalingUrl follows the page's scheme and host", () => {
  assert.equal(
    signalingUrl({ protocol: "http:", host: "localhost:8000" }),
    "ws://localhost:8000/ws",
  );
  assert.equal(
    signalingUrl({ protocol: "https:", host: "meet.example" }),
    "wss://meet.example/ws",
  );
});

Deno.test("Signaling parses server frames and reports junk separately", () => {
  const messages: unknown[] = [];
  const junk: string[] = [];
  let socket!: FakeSocket;
  const signaling = new Signaling("ws://x/ws", {
    createSocket: (url) => (socket = new FakeSocket(url)),
    onMessage: (m) => messages.push(m),
    onClose: () => {},
    onProtocolError: (m) => junk.push(m),
  });
  assert.equal(
    signaling.send({ event: "part", data: { channel: "r" } }),
    false,
    "not open yet",
  );
  socket.open();
  socket.serverSend("removePeer", { peer_id: "p2" });
  socket.onmessage?.(new MessageEvent("message", { data: "garbage" }));
  socket.serverSend("removePeer", { peer_id: 5 });
  assert.deepEqual(messages, [{
    event: "removePeer",
    data: { peer_id: "p2" },
  }]);
  assert.equal(junk.length, 2);
  assert.equal(signaling.send({ event: "part", data: { channel: "r" } }), true);
  assert.deepEqual(socket.frames(), [{
    event: "part",
    data: { channel: "r" },
  }]);
});

Deno.test("Signaling tells a refused connection, a drop and a deliberate close apart", () => {
  const closes: unknown[] = [];
  const make = () => {
    let socket!: FakeSocket;
    const signaling = new Signaling("ws://x/ws", {
      createSocket: (url) => (socket = new FakeSocket(url)),
      onMessage: () => {},
      onClose: (info) => closes.push(info),
    });
    return { signaling, socket };
  };
  make().socket.serverClose(1006);
  const dropped = make();
  dropped.socket.open();
  dropped.socket.serverClose(1006);
  const left = make();
  left.socket.open();
  left.signaling.close();
  assert.deepEqual(closes, [
    { code: 1006, opened: false, deliberate: false },
    { code: 1006, opened: true, deliberate: false },
    { code: 1000, opened: true, deliberate: true },
  ]);
});
