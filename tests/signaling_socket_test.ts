import assert from "node:assert/strict";
import { SignalingSocket } from "../client/signaling_socket.ts";
import { FakeSocket } from "./_helpers.ts";

Deno.test("SignalingSocket parses server frames and reports junk separately", () => {
  const messages: unknown[] = [];
  const junk: string[] = [];
  let socket!: FakeSocket;
  const signaling = new SignalingSocket("ws://x/ws", {
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

Deno.test("SignalingSocket tells a refused connection, a drop and a deliberate close apart", () => {
  const closes: unknown[] = [];
  const make = () => {
    let socket!: FakeSocket;
    const signaling = new SignalingSocket("ws://x/ws", {
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
    { code: 1006, reason: "", opened: false, deliberate: false },
    { code: 1006, reason: "", opened: true, deliberate: false },
    { code: 1000, reason: "", opened: true, deliberate: true },
  ]);
});
