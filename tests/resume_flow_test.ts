/**
 * Session resume end to end through the hub: drops held away, tokens
 * verified, identities moved onto new connections, rooms rebuilt after a
 * restart. `resume_test.ts` tests the decisions of lib/resume.ts alone.
 */

import assert from "node:assert/strict";
import { TokenSigner } from "../lib/token.ts";
import {
  CANDIDATE,
  FakeConnection,
  frame,
  hubFixture,
  resumableHubFixture,
  SECRET,
} from "./_helpers.ts";

const setup = resumableHubFixture;
Deno.test("Hub welcome carries a resume token and the window", () => {
  const { member } = setup();
  const a = member();
  const welcome = a.welcome;
  assert.equal(typeof welcome.resume_token, "string");
  assert.equal(welcome.resume_window, 25);
});

Deno.test("Hub holds a dropped peer away, queues relays, and resumes it without removePeer", () => {
  const { hub, member, resume } = setup();
  const a = member();
  const b = member();
  a.conn.take();
  b.conn.take();
  a.session.close({ deliberate: false });
  assert.deepEqual(b.conn.take(), [{ event: "peerAway", data: { peer_id: a.id } }]);
  assert.equal(hub.awayCount, 1);
  b.session.receive(frame("relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE }));
  assert.deepEqual(b.conn.take(), [], "relaying to an away peer is not an error");

  const back = resume(a.token);
  assert.equal(back.session.peerId, a.id, "same identity");
  const frames = back.conn.take();
  // The client keeps its ICE configuration across a resume: no iceServers.
  assert.deepEqual(frames.map((f) => f.event), [
    "resumed",
    "iceCandidate",
    "session",
  ]);
  assert.deepEqual(frames[0].data, {
    peer_id: a.id,
    channels: ["room"],
    restored: false,
    peers: [b.id],
  });
  assert.deepEqual(frames[1].data, { peer_id: b.id, ice_candidate: CANDIDATE });
  assert.deepEqual(b.conn.take(), [{ event: "peerBack", data: { peer_id: a.id } }]);
  assert.equal(hub.awayCount, 0);
  assert.equal(hub.connectionCount, 2);
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id]);
  assert.equal(hub.metrics.resumes, 1);
});

Deno.test("Hub removes an away peer when the window passes", () => {
  const { hub, clock, member, resume } = setup();
  const a = member();
  const b = member();
  b.conn.take();
  a.session.close({ deliberate: false });
  b.conn.take();
  clock.advance(24_000);
  hub.tick();
  assert.deepEqual(b.conn.take(), []);
  clock.advance(1_000);
  hub.tick();
  assert.deepEqual(b.conn.takeV1(), [{ event: "removePeer", data: { peer_id: a.id } }]);
  assert.equal(hub.channelCount, 1);
  const late = resume(a.token);
  assert.equal(late.conn.frames("error")[0].data.code, "bad_token");
});

Deno.test("Hub removes a deliberately closed peer at once and refuses its token after", () => {
  const { hub, member, resume } = setup();
  const a = member();
  const b = member();
  b.conn.take();
  a.session.close({ deliberate: true });
  assert.deepEqual(b.conn.takeV1(), [{ event: "removePeer", data: { peer_id: a.id } }]);
  const replay = resume(a.token);
  const error = replay.conn.frames("error")[0].data;
  assert.equal(error.code, "bad_token");
  assert.equal(error.event, "resume");
  assert.match(error.message, /has left/);
  assert.notEqual(replay.session.peerId, a.id, "a fresh identity");
  assert.equal(hub.registry.membersOf("room").includes(a.id), false);
  replay.session.receive(frame("join", { channel: "room" }));
  assert.equal(replay.conn.frames("joined").length, 1, "the fresh identity works");
});

Deno.test("Hub refuses forged, malformed and expired tokens with bad_token", () => {
  const { clock, member, resume } = setup();
  const a = member();
  a.session.close({ deliberate: false });
  const [payload, mac] = a.token.split(".");
  const forged = new TokenSigner(new TextEncoder().encode("another-secret-another-secret!!")).sign({
    peerId: a.id,
    expiresAt: clock.ms + 60_000,
  });
  for (const token of [forged, `${payload}.${mac.slice(1)}x`, "garbage", `${payload}.${mac}.x`]) {
    const attempt = resume(token);
    assert.equal(attempt.conn.frames("error")[0].data.code, "bad_token", token);
    assert.match(attempt.conn.frames("error")[0].data.message, /not valid/);
  }
  clock.advance(120_001);
  const expired = resume(a.token);
  assert.match(expired.conn.frames("error")[0].data.message, /expired/);
});

Deno.test("Hub lets a second tab resuming the same token replace the first, leaving no ghost", () => {
  const { hub, member, resume } = setup();
  const a = member();
  const b = member();
  b.conn.take();
  const tab2 = resume(a.token);
  assert.equal(a.conn.closedWith?.code, 4001);
  assert.equal(tab2.session.peerId, a.id);
  a.session.close({ deliberate: false }); // the old tab's close event arrives late
  assert.deepEqual(b.conn.take(), [], "no removePeer, no away");
  assert.equal(hub.connectionCount, 2);
  b.session.receive(frame("relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE }));
  assert.equal(tab2.conn.frames("iceCandidate").length, 1, "relays reach the new tab");
  assert.equal(a.conn.frames("iceCandidate").length, 0);
});

Deno.test("Hub after a restart accepts tokens signed with the same secret and rebuilds rooms", () => {
  const first = setup();
  const a = first.member();
  const b = first.member();
  const c = first.member();
  // The process dies; a new hub with the same secret starts empty.
  const second = setup({ newId: () => `new-${crypto.randomUUID()}` });
  const ra = second.resume(a.token, [{ channel: "room", userdata: { name: "A" } }]);
  const rb = second.resume(b.token, [{ channel: "room", userdata: { name: "B" } }]);
  const rc = second.resume(c.token, [{ channel: "room", userdata: { name: "C" } }]);
  assert.deepEqual([ra, rb, rc].map((r) => r.session.peerId), [a.id, b.id, c.id]);
  assert.deepEqual(second.hub.registry.membersOf("room"), [a.id, b.id, c.id]);
  assert.equal(ra.conn.frames("resumed")[0].data.peer_id, a.id);
  assert.equal(ra.conn.frames("resumed")[0].data.restored, true, "rebuilt, not held");
  // Rejoining reintroduces pairs; clients keep their existing connections.
  assert.deepEqual(ra.conn.frames("addPeer").map((f) => f.data.peer_id), [b.id, c.id]);
  assert.equal(ra.conn.frames("joined").length, 0, "a resume rejoins quietly");
  // A newcomer meshes with everyone.
  const d = second.member();
  assert.deepEqual(d.conn.frames("addPeer").map((f) => f.data.peer_id), [a.id, b.id, c.id]);
  // And relays work between resumed peers.
  ra.session.receive(frame("relayICECandidate", { peer_id: b.id, ice_candidate: CANDIDATE }));
  assert.equal(rb.conn.frames("iceCandidate").length, 1);
});

Deno.test("Hub refuses a resume after joining, and without a token signer", () => {
  const { member } = setup();
  const a = member();
  a.session.receive(frame("resume", { token: a.token, channels: [] }));
  assert.equal(a.conn.frames("error")[0].data.code, "bad_request");
  const plain = hubFixture().connect();
  assert.equal(plain.welcome.resume_token, undefined);
  plain.session.receive(frame("resume", { token: "x.y", channels: [] }));
  assert.match(plain.conn.frames("error")[0].data.message, /does not support resuming/);
});

Deno.test("Hub without resume support removes dropped peers at once", () => {
  const { member } = hubFixture();
  const a = member("r");
  const b = member("r");
  b.conn.take();
  a.session.close({ deliberate: false });
  assert.deepEqual(b.conn.takeV1(), [{ event: "removePeer", data: { peer_id: "p1" } }]);
});

Deno.test("Hub refreshes resume tokens at half-life", () => {
  const { hub, clock, member } = setup();
  const a = member();
  a.conn.take();
  clock.advance(59_000);
  hub.tick();
  assert.deepEqual(a.conn.take(), []);
  clock.advance(1_000);
  hub.tick();
  const [session] = a.conn.take();
  assert.equal(session.event, "session");
  assert.notEqual(session.data.resume_token, a.token);
});

Deno.test("Hub bounds what it holds for an away peer", () => {
  const { member, resume } = setup({ maxHeldMessages: 3 });
  const a = member();
  const b = member();
  a.session.close({ deliberate: false });
  for (let i = 0; i < 10; i++) {
    b.session.receive(frame("relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE }));
  }
  const back = resume(a.token);
  assert.equal(back.conn.frames("iceCandidate").length, 3);
});

Deno.test("Hub leaves no phantom when a resuming peer is kicked as a slow consumer mid-resume", () => {
  const { hub, member } = setup({ maxBufferedBytes: 1000 });
  const a = member();
  const b = member();
  const d = member("other");
  a.session.close({ deliberate: false });
  b.session.receive(frame("relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE }));
  for (const p of [b, d]) p.conn.take();

  // The resuming socket stops reading: the held frames overflow it.
  const conn = new FakeConnection();
  const session = hub.connect(conn);
  conn.bufferedAmount = 5000;
  session.receive(frame("resume", {
    token: a.token,
    channels: [{ channel: "room", userdata: {} }, { channel: "other", userdata: {} }],
  }));
  assert.equal(conn.closedWith?.code, 1013, "kicked as a slow consumer");
  // The resume completes, then the kick's leave applies: whoever heard of
  // the resumer hears it leave, last.
  assert.deepEqual(b.conn.takeV1().at(-1), { event: "removePeer", data: { peer_id: a.id } });
  assert.deepEqual(d.conn.take().map((f) => f.event), ["addPeer", "peerBack", "removePeer"]);
  assert.deepEqual(hub.registry.membersOf("room"), [b.id]);
  assert.deepEqual(hub.registry.membersOf("other"), [d.id]);
  assert.equal(hub.connectionCount, 2);

  // Positive control: the same resume from a socket that reads does rejoin.
  const c = member();
  c.session.close({ deliberate: false });
  const healthy = new FakeConnection();
  hub.connect(healthy).receive(frame("resume", {
    token: c.token,
    channels: [{ channel: "room", userdata: {} }, { channel: "other", userdata: {} }],
  }));
  assert.deepEqual(d.conn.frames("addPeer").map((f) => f.data.peer_id), [c.id]);
  assert.deepEqual(hub.registry.membersOf("other"), [d.id, c.id]);
});

Deno.test("Hub leaves no phantom when a peer restored after a restart is kicked mid-resume", () => {
  const { hub, member } = setup({ maxBufferedBytes: 1000 });
  const b = member();
  b.conn.take();
  // A token from before the restart: this hub has never seen its peer.
  const token = new TokenSigner(SECRET).sign({ peerId: "ghost", expiresAt: 1_700_000_060_000 });
  const conn = new FakeConnection();
  const session = hub.connect(conn);
  conn.bufferedAmount = 5000;
  session.receive(frame("resume", { token, channels: [{ channel: "room", userdata: {} }] }));
  assert.equal(conn.closedWith?.code, 1013);
  // Introduced as it rejoined, then removed by the kick's leave: no ghost left.
  assert.deepEqual(
    b.conn.frames().filter((f) => f.data.peer_id === "ghost").map((f) => f.event),
    ["addPeer", "removePeer"],
  );
  assert.deepEqual(hub.registry.membersOf("room"), [b.id]);
  assert.equal(hub.channelCount, 1);
});

Deno.test("Hub accepts resume only as a connection's first frame", () => {
  const { hub, member } = setup();
  const a = member();
  a.session.close({ deliberate: false });
  // Joined and parted again: no channels, but not the first frame either.
  const conn = new FakeConnection();
  const session = hub.connect(conn);
  session.receive(frame("join", { channel: "elsewhere", userdata: {} }));
  session.receive(frame("part", { channel: "elsewhere" }));
  conn.take();
  session.receive(frame("resume", { token: a.token, channels: [] }));
  assert.deepEqual(conn.frames("error").map((f) => f.data.code), ["bad_request"]);
  assert.match(conn.frames("error")[0].data.message, /first frame/);
  assert.notEqual(session.peerId, a.id);
  // Positive control: first on a fresh connection, the same token works.
  const fresh = new FakeConnection();
  const back = hub.connect(fresh);
  back.receive(frame("resume", { token: a.token, channels: [] }));
  assert.equal(back.peerId, a.id);
});

Deno.test("Hub lets a refreshed token supersede the older one", () => {
  const { hub, clock, member, resume } = setup();
  const a = member();
  clock.advance(60_000);
  hub.tick();
  const newer: string = a.conn.frames("session").at(-1)!.data.resume_token;
  a.session.close({ deliberate: false });
  const old = resume(a.token);
  assert.match(old.conn.frames("error")[0]?.data.message ?? "", /superseded/);
  assert.notEqual(old.session.peerId, a.id);
  const back = resume(newer);
  assert.equal(back.session.peerId, a.id, "the newest token still resumes");
});

Deno.test("Hub removes a dropped peer at once when too many are already away", () => {
  const { hub, member } = setup({ maxAwayPeers: 1 });
  const [a, b] = [member(), member(), member()];
  a.session.close({ deliberate: false });
  assert.equal(hub.awayCount, 1, "the first is held away");
  b.session.close({ deliberate: false });
  assert.equal(hub.awayCount, 1, "the second is not");
  assert.deepEqual(hub.registry.membersOf("room"), ["p1", "p3"]);
});

Deno.test("Hub logs dropped frames for an away peer once, not once per frame", () => {
  const lines: string[] = [];
  const { member } = setup({
    maxHeldMessages: 2,
    logger: { enabled: () => true, log: (level, msg) => lines.push(`${level} ${msg}`) },
  });
  const [a, b] = [member(), member()];
  a.session.close({ deliberate: false });
  for (let i = 0; i < 50; i++) {
    b.session.receive(frame("relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE }));
  }
  const warnings = lines.filter((l) => l.startsWith("warn") && l.includes("away peer"));
  assert.equal(warnings.length, 1, "48 frames dropped, one line");
});
