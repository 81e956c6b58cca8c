import assert from "node:assert/strict";
import { BACKOFF_STEPS, backoffDelay, SignalingClient, signalingUrl } from "../client/signaling.ts";
import type { ServerMessage } from "../lib/protocol.ts";
import { FakeSocket } from "./_helpers.ts";
import { ManualTimers } from "./_wait.ts";

function client(options: { online?: () => boolean; browser?: string } = {}) {
  const sockets: FakeSocket[] = [];
  const messages: ServerMessage[] = [];
  const statuses: string[] = [];
  const gaveUp: string[] = [];
  const timers = new ManualTimers();
  const link = new SignalingClient({
    url: "ws://test/ws",
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    onMessage: (m) => messages.push(m),
    onStatus: (s) => statuses.push(s),
    onGiveUp: (r) => gaveUp.push(r),
    channels: () => [{ channel: "room", userdata: { name: "Ann" } }],
    browser: options.browser,
    timers,
    random: () => 0.5,
    isOnline: options.online,
  });
  const welcome = (socket: FakeSocket, peerId: string, token = `token-${peerId}`) => {
    socket.open();
    socket.serverSend("welcome", {
      peer_id: peerId,
      protocol: 1,
      ice_servers: [],
      resume_token: token,
      resume_window: 25,
    });
  };
  return { link, sockets, messages, statuses, gaveUp, timers, welcome };
}

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

Deno.test("backoffDelay starts fast, doubles, caps at 15 s, and jitters ±30 %", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, 0.5)), [
    250,
    1000,
    2000,
    4000,
    8000,
    15000,
    15000,
  ]);
  assert.equal(backoffDelay(1, 0), 700);
  assert.equal(backoffDelay(1, 1), 1300);
  // Every step is the centre of its jitter range: the table is what the
  // delays are, not just a list beside them.
  BACKOFF_STEPS.forEach((step, attempt) => {
    assert.equal(backoffDelay(attempt, 0.5), step, `attempt ${attempt}`);
    assert.equal(backoffDelay(attempt, 0), Math.round(step * 0.7), `attempt ${attempt}, earliest`);
    assert.equal(backoffDelay(attempt, 1), Math.round(step * 1.3), `attempt ${attempt}, latest`);
  });
});

Deno.test("SignalingClient reconnects with backoff, resumes, and flushes what was queued", () => {
  const { link, sockets, messages, statuses, timers, welcome } = client();
  link.start();
  welcome(sockets[0], "me");
  assert.equal(link.peerId, "me");
  assert.deepEqual(messages.map((m) => m.event), ["welcome"]);

  sockets[0].serverClose(1006);
  assert.equal(link.status, "reconnecting");
  const relay = {
    event: "relayICECandidate" as const,
    data: { peer_id: "bob", ice_candidate: { candidate: "c" } },
  };
  assert.equal(link.send(relay), true, "queued while away");
  assert.equal(link.send({ event: "join", data: { channel: "x", userdata: {} } }), false);

  assert.equal(timers.fire(), 250, "the first retry is fast");
  sockets[1].serverClose(1006); // server still down
  assert.equal(timers.fire(), 1000);
  sockets[2].serverClose(1006);
  assert.equal(timers.fire(), 2000);

  welcome(sockets[3], "someone-new");
  assert.deepEqual(sockets[3].frames(), [{
    event: "resume",
    data: { token: "token-me", channels: [{ channel: "room", userdata: { name: "Ann" } }] },
  }]);
  assert.deepEqual(messages.map((m) => m.event), ["welcome"], "no second welcome for the app");
  sockets[3].serverSend("resumed", { peer_id: "me", channels: ["room"] });
  sockets[3].serverSend("session", { resume_token: "token-2" });
  assert.equal(link.status, "connected");
  assert.equal(link.peerId, "me", "same identity");
  assert.deepEqual(sockets[3].frames().slice(1), [relay]);
  assert.deepEqual(statuses, ["connected", "reconnecting", "connected"]);

  // The refreshed token is the one used next time.
  sockets[3].serverClose(1006);
  assert.equal(timers.fire(), 250, "backoff starts over after a success");
  welcome(sockets[4], "other");
  assert.equal(sockets[4].frames()[0].data.token, "token-2");
});

Deno.test("SignalingClient carries on as a new identity when the token is refused", () => {
  const { link, sockets, messages, timers, welcome } = client();
  link.start();
  welcome(sockets[0], "me");
  sockets[0].serverClose(1006);
  link.send({
    event: "relaySessionDescription",
    data: { peer_id: "bob", session_description: { type: "offer", sdp: "" } },
  });
  timers.fire();
  welcome(sockets[1], "fresh");
  sockets[1].serverSend("error", {
    code: "bad_token",
    message: "Cannot resume: the token has expired",
    event: "resume",
  });
  assert.equal(link.peerId, "fresh");
  assert.equal(link.status, "connected");
  assert.deepEqual(messages.map((m) => m.event), ["welcome", "error", "welcome"]);
  assert.deepEqual(sockets[1].frames().map((f) => f.event), ["resume"], "stale relays dropped");
});

Deno.test("SignalingClient waits while offline and retries at once when back online", () => {
  let online = true;
  const { link, sockets, timers, welcome } = client({ online: () => online });
  link.start();
  welcome(sockets[0], "me");
  online = false;
  sockets[0].serverClose(1006);
  assert.equal(timers.pending.size, 0, "no retries while offline");
  online = true;
  link.onlineChanged();
  assert.equal(sockets.length, 2, "reconnected immediately");
});

Deno.test("SignalingClient gives up when another tab takes over, when kicked or removed, or never connected", () => {
  const replaced = client();
  replaced.link.start();
  replaced.welcome(replaced.sockets[0], "me");
  replaced.sockets[0].serverClose(4001);
  assert.deepEqual(replaced.gaveUp, ["replaced"]);
  assert.equal(replaced.timers.pending.size, 0);

  const never = client();
  never.link.start();
  never.sockets[0].serverClose(1006);
  assert.deepEqual(never.gaveUp, ["unreachable"]);

  const kicked = client();
  kicked.link.start();
  kicked.welcome(kicked.sockets[0], "me");
  kicked.sockets[0].serverClose(1008);
  assert.deepEqual(kicked.gaveUp, ["refused"]);

  const removed = client();
  removed.link.start();
  removed.welcome(removed.sockets[0], "me");
  removed.sockets[0].serverClose(4003);
  assert.deepEqual(removed.gaveUp, ["removed"]);
  assert.equal(removed.timers.pending.size, 0, "a removed person does not resume");
});

Deno.test("SignalingClient close is deliberate: no reconnect", () => {
  const { link, sockets, timers, welcome } = client();
  link.start();
  welcome(sockets[0], "me");
  link.close();
  assert.equal(sockets[0].closedWith, 1000);
  assert.equal(timers.pending.size, 0);
  assert.equal(link.status, "closed");
});

Deno.test("SignalingClient sends this browser's id with a resume", () => {
  const { link, sockets, timers, welcome } = client({ browser: "browser-1" });
  link.start();
  welcome(sockets[0], "me");
  sockets[0].serverClose(1006);
  timers.fire();
  welcome(sockets[1], "someone-new");
  assert.deepEqual(sockets[1].frames(), [{
    event: "resume",
    data: {
      token: "token-me",
      channels: [{ channel: "room", userdata: { name: "Ann" } }],
      browser: "browser-1",
    },
  }]);
});
