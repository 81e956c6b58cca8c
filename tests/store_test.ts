import assert from "node:assert/strict";
import { CallModel, cleanName, MAX_ANNOUNCEMENTS, MAX_CHAT_MESSAGES } from "../client/store.ts";

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

Deno.test("CallModel keeps the chat's open state and the open popover as signals", () => {
  const store = new CallModel({ room: "r", name: "Ann", chatOpen: true });
  assert.equal(
    new CallModel({ room: "r", name: "Ann" }).chatOpen.value,
    false,
    "closed by default",
  );
  store.addChat({ from: "p1", name: "Bob", text: "hi", at: 0 }, { panelOpen: false });
  assert.equal(store.unread.value, 1);
  store.toggleChat();
  assert.equal(store.chatOpen.value, false);
  assert.equal(store.unread.value, 0, "toggling the chat marks it read");
  store.setPhase("in-call");
  store.togglePanel("people");
  assert.equal(store.openPanel.value, "people");
  store.togglePanel("help");
  assert.equal(store.openPanel.value, "help", "one popover at a time");
  store.togglePanel("help");
  assert.equal(store.openPanel.value, null, "the same button closes it");
  store.togglePanel("settings");
  store.closePanel();
  assert.equal(store.openPanel.value, null);
  store.togglePanel("people");
  store.setPhase("prejoin");
  assert.equal(store.openPanel.value, null, "popovers close with the call");
  assert.equal(store.chatOpen.value, false, "the chat keeps its place across calls");
  store.toggleChat();
  store.setPhase("joining");
  assert.equal(store.chatOpen.value, true);
});
