import assert from "node:assert/strict";
import { BACKOFF_STEPS, backoffDelay, SignalingClient } from "../client/connection.ts";
import { Peer } from "../client/peer.ts";
import type { ServerMessage } from "../lib/protocol.ts";
import { fakeCall } from "./_call.ts";
import { FakePeerConnection, settle } from "./_fake_rtc.ts";
import { FakeSocket } from "./_helpers.ts";

/** Timers the test fires by hand. */
class ManualTimers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 0;
  setTimeout = (fn: () => void, ms: number): unknown => {
    this.pending.set(++this.#next, { fn, ms });
    return this.#next;
  };
  clearTimeout = (id: unknown) => {
    this.pending.delete(id as number);
  };
  /** Fires the one pending timer and returns its delay. */
  fire(): number {
    assert.equal(this.pending.size, 1, "exactly one timer pending");
    const [[id, { fn, ms }]] = this.pending;
    this.pending.delete(id);
    fn();
    return ms;
  }
}

function client(options: { online?: () => boolean } = {}) {
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
  assert.equal(BACKOFF_STEPS[0], 250);
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

Deno.test("SignalingClient gives up when another tab takes over, when kicked, or never connected", () => {
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

Deno.test("CallController keeps its peer connections and tiles across a signaling drop", async () => {
  const timers = new ManualTimers();
  const { store, call, sockets, pcs, joinAs, welcome, meetBob } = fakeCall({
    deps: { timers, random: () => 0.5 },
  });
  await call.startPreview();
  meetBob(joinAs("Ann", "t"));
  await settle(5);
  const tiles = store.participants.value;
  const peer = call.mesh!.peer("bob");

  sockets[0].serverClose(1006);
  assert.equal(store.linkStatus.value, "reconnecting");
  assert.equal(store.phase.value, "in-call");
  timers.fire();
  welcome("temp");
  sockets[1].serverSend("resumed", { peer_id: "me", channels: ["room"] });
  // After a restart the server reintroduces Bob: the existing call stays.
  sockets[1].serverSend("addPeer", {
    peer_id: "bob",
    should_create_offer: false,
    polite: true,
    userdata: { name: "Bob" },
  });
  assert.equal(store.linkStatus.value, "connected");
  assert.equal(call.mesh!.peer("bob"), peer, "same RTCPeerConnection, roles unchanged");
  assert.equal(pcs.length, 1);
  assert.equal(store.participants.value.get("bob"), tiles.get("bob"), "the tile never changed");
  assert.notEqual(pcs[0].connectionState, "closed");
});

Deno.test("Peer restarts ICE when a connection stays disconnected", () => {
  const pc = new FakePeerConnection({});
  const timers = new ManualTimers();
  const peer = new Peer(pc as unknown as RTCPeerConnection, {
    polite: false,
    initiator: true,
    tracks: [],
    signal: () => {},
    timers,
  });
  pc.setConnectionState("disconnected");
  pc.setConnectionState("connected"); // healed by itself: the wait is cancelled
  assert.equal(timers.pending.size, 0);
  assert.equal(pc.iceRestarts, 0);
  pc.setConnectionState("disconnected");
  assert.equal(timers.fire(), 4000, "waits a few seconds first");
  assert.equal(pc.iceRestarts, 1);
  peer.close();
});

Deno.test("Peer stops restarting ICE on its own after three failures", () => {
  const pc = new FakePeerConnection({});
  const peer = new Peer(pc as unknown as RTCPeerConnection, {
    polite: true,
    initiator: false,
    tracks: [],
    signal: () => {},
  });
  for (let i = 0; i < 5; i++) pc.setConnectionState("failed");
  assert.equal(pc.iceRestarts, 3);
  pc.setConnectionState("connected");
  pc.setConnectionState("failed");
  assert.equal(pc.iceRestarts, 4, "a working connection resets the count");
  peer.close();
});

Deno.test("CallController drops peers a restarted server never reintroduces", async () => {
  const timers = new ManualTimers();
  const { store, call, sockets, joinAs, welcome, meetBob, introduce } = fakeCall({
    deps: { timers, random: () => 0.5 },
  });
  await call.startPreview();
  const first = joinAs("Ann", "t");
  meetBob(first);
  introduce(first, "cid", "Cid");
  await settle(5);
  first.serverClose(1006);
  timers.fire(); // reconnect
  const second = welcome("temp");
  second.serverSend("resumed", { peer_id: "me", channels: ["room"], restored: true });
  // Bob comes back; Cid closed their tab while the server was down.
  introduce(second, "bob", "Bob", false);
  assert.deepEqual([...store.participants.value.keys()].sort(), ["bob", "cid"]);
  assert.equal(timers.fire(), 30_000, "the server's 25 s window plus a margin");
  assert.deepEqual([...store.participants.value.keys()], ["bob"]);
  assert.equal(sockets.length, 2);
});

Deno.test("CallController on a network change restarts ICE only where connections suffer", async () => {
  const { call, pcs, joinAs, meetBob, introduce } = fakeCall();
  await call.startPreview();
  const socket = joinAs("Ann", "t");
  meetBob(socket);
  introduce(socket, "cid", "Cid");
  await settle(5);
  pcs[0].setConnectionState("connected");
  pcs[1].setConnectionState("disconnected");
  call.networkChanged();
  assert.equal(pcs[0].iceRestarts, 0, "a healthy connection is left alone");
  assert.equal(pcs[1].iceRestarts, 1);
  call.leave();
});
