/**
 * Room authority end to end through the hub: hosts, lock, knock/admit/deny,
 * password, removal, ask-to-mute, and what survives drops and restarts.
 * `authority_test.ts` tests the rules of lib/authority.ts alone.
 */

import assert from "node:assert/strict";
import type { HubOptions } from "../lib/hub.ts";
import type { LogLevel } from "../lib/log.ts";
import { loadRooms, saveRooms } from "../lib/saved_rooms.ts";
import {
  CANDIDATE,
  FakeConnection,
  frame,
  type Member,
  OFFER,
  resumableHubFixture,
} from "./_helpers.ts";
import { until } from "./_wait.ts";

const setup = resumableHubFixture;

function send(m: Member, event: string, data: unknown) {
  m.session.receive(frame(event, data));
}

/** The room state `m` was last sent, in a `roomState` or its `joined`. */
function stateSeen(m: Member) {
  return m.conn.frames().map((f) =>
    f.event === "joined" ? f.data.room_state : f.event === "roomState" ? f.data : undefined
  )
    .filter((state) => state !== undefined).at(-1);
}

/** The error codes `m` was sent, with the refused event. */
function errors(m: Member): [string, string | undefined][] {
  return m.conn.frames("error").map((f) => [f.data.code, f.data.event]);
}

/** The peer ids in the last `knocks` list `m` was sent. */
function knocksSeen(m: Member): string[] | undefined {
  return m.conn.frames("knocks").at(-1)?.data.knocks.map((k: { peer_id: string }) => k.peer_id);
}

/** A password hash takes a while (off the event loop): wait for its answer. */
function settled(m: Member, event: string, what: string) {
  return until(() => m.conn.frames(event).length > 0, what, { turns: 20_000 });
}

/** Host `a` and member `b` in a locked "room", everything sent so far read. */
function lockedRoom(options: HubOptions = {}) {
  const fixture = setup(options);
  const a = fixture.member();
  const b = fixture.member();
  send(a, "lock", { channel: "room", locked: true });
  for (const m of [a, b]) m.conn.take();
  return { ...fixture, a, b };
}

Deno.test("Hub makes the first one in a room its host and tells every member roomState", () => {
  const { member } = setup();
  const a = member();
  assert.deepEqual(a.conn.take().map((f) => f.event), ["joined"]);
  const b = member();
  assert.deepEqual(b.conn.frames().map((f) => f.event), ["addPeer", "joined"]);
  assert.deepEqual(stateSeen(b), {
    channel: "room",
    hosts: [a.id],
    locked: false,
    password: false,
  });
  assert.deepEqual(a.conn.take().map((f) => f.event), ["addPeer"], "nothing changed for a");
});

Deno.test("Hub refuses each host action from a non-host with not_allowed and changes nothing", () => {
  const { hub, member, connect } = setup();
  const a = member();
  const b = member();
  const knocker = connect();
  send(a, "lock", { channel: "room", locked: true });
  send(knocker, "knock", { channel: "room", userdata: { name: "K" } });
  for (const m of [a, b, knocker]) m.conn.take();
  const before = JSON.stringify(hub.roomsSnapshot());
  const actions: [string, unknown][] = [
    ["lock", { channel: "room", locked: false }],
    ["setPassword", { channel: "room", password: "secret" }],
    ["makeHost", { channel: "room", peer_id: b.id }],
    ["remove", { channel: "room", peer_id: a.id }],
    ["mute", { channel: "room", peer_id: a.id }],
    ["admit", { channel: "room", peer_id: knocker.id }],
    ["deny", { channel: "room", peer_id: knocker.id }],
  ];
  for (const [event, data] of actions) send(b, event, data);
  assert.deepEqual(errors(b), actions.map(([event]) => ["not_allowed", event]));
  assert.equal(JSON.stringify(hub.roomsSnapshot()), before, "state unchanged");
  assert.deepEqual(a.conn.take(), [], "the host hears nothing of it");
  assert.deepEqual(knocker.conn.take(), [], "the knocker is neither let in nor turned away");
  assert.equal(b.conn.closedWith, undefined);
  assert.equal(a.conn.closedWith, undefined);
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id]);
  // Positive control: the host's lock goes through.
  send(a, "lock", { channel: "room", locked: false });
  assert.equal(stateSeen(b).locked, false);
});

Deno.test("Hub refuses a host of one room acting on another, and targets outside the room", () => {
  const { member, connect } = setup();
  const a = member("room");
  const c = member("other");
  const stranger = connect();
  for (const event of ["lock", "makeHost", "mute", "remove"]) {
    send(a, event, { channel: "other", locked: true, peer_id: c.id });
  }
  assert.deepEqual(errors(a).map(([code]) => code), Array(4).fill("not_allowed"));
  a.conn.take();
  for (const event of ["makeHost", "mute", "remove", "admit", "deny"]) {
    send(a, event, { channel: "room", peer_id: c.id });
  }
  send(a, "remove", { channel: "room", peer_id: stranger.id });
  send(a, "remove", { channel: "room", peer_id: a.id });
  assert.deepEqual(errors(a).map(([code]) => code), Array(7).fill("unknown_peer"));
  assert.deepEqual(c.conn.take().map((f) => f.event), ["joined"], "c untouched");
  assert.equal(c.conn.closedWith, undefined);
});

Deno.test("Hub answers malformed host actions with bad_request", () => {
  const { member } = setup();
  const a = member();
  a.conn.take();
  send(a, "lock", { channel: "room", locked: "yes" });
  send(a, "setPassword", { channel: "room", password: "" });
  send(a, "setPassword", { channel: "room", password: "x".repeat(129) });
  send(a, "mute", { channel: "room" });
  send(a, "knock", { channel: "room", browser: "has space" });
  send(a, "join", { channel: "r2", password: 5 });
  assert.deepEqual(errors(a).map(([code]) => code), Array(6).fill("bad_request"));
  assert.equal(stateSeen(a), undefined, "nothing changed");
});

Deno.test("Hub lets a knocker into a locked room only when a host admits them", () => {
  const { hub, connect, a, b } = lockedRoom();
  const k = connect();
  send(k, "join", { channel: "room", userdata: { name: "Kim" } });
  assert.deepEqual(errors(k), [["room_locked", "join"]]);
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id], "changes nothing");
  assert.deepEqual(a.conn.take(), []);
  k.conn.take();
  send(k, "knock", { channel: "room", userdata: { name: " Kim\u200b " } });
  assert.deepEqual(k.conn.take(), [{ event: "knocking", data: { channel: "room" } }]);
  assert.deepEqual(a.conn.take(), [{
    event: "knocks",
    data: { channel: "room", knocks: [{ peer_id: k.id, name: "Kim" }] },
  }]);
  assert.deepEqual(b.conn.take(), [], "only hosts see who knocks");
  send(a, "admit", { channel: "room", peer_id: k.id });
  assert.deepEqual(k.conn.frames().map((f) => [f.event, f.data.peer_id]), [
    ["addPeer", a.id],
    ["addPeer", b.id],
    ["joined", undefined],
  ]);
  assert.deepEqual(b.conn.frames("addPeer").map((f) => f.data.userdata), [{ name: " Kim\u200b " }]);
  assert.deepEqual(knocksSeen(a), [], "the pending list is empty again");
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id, k.id]);
});

Deno.test("Hub keeps a knocker out of the room's relays until admitted", () => {
  const { connect, a, b } = lockedRoom();
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  k.conn.take();
  send(k, "relayICECandidate", { peer_id: b.id, ice_candidate: CANDIDATE });
  send(k, "relaySessionDescription", { peer_id: b.id, session_description: OFFER });
  send(b, "relayICECandidate", { peer_id: k.id, ice_candidate: CANDIDATE });
  assert.deepEqual(errors(k), [
    ["unknown_peer", "relayICECandidate"],
    ["unknown_peer", "relaySessionDescription"],
  ]);
  assert.deepEqual(errors(b), [["unknown_peer", "relayICECandidate"]]);
  assert.deepEqual(b.conn.frames("iceCandidate"), []);
  assert.deepEqual(b.conn.frames("sessionDescription"), []);
  assert.deepEqual(k.conn.frames("iceCandidate"), []);
  assert.deepEqual(k.conn.frames("addPeer"), [], "no peer list while waiting");
  // Positive control: once admitted, the same relays arrive.
  send(a, "admit", { channel: "room", peer_id: k.id });
  send(k, "relaySessionDescription", { peer_id: b.id, session_description: OFFER });
  assert.deepEqual(b.conn.frames("sessionDescription").map((f) => f.data.peer_id), [k.id]);
});

Deno.test("Hub sends a denied knocker denied and keeps their connection", () => {
  const { hub, connect, a } = lockedRoom();
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  send(a, "deny", { channel: "room", peer_id: k.id });
  assert.deepEqual(k.conn.take().map((f) => f.event), ["knocking", "denied"]);
  assert.deepEqual(knocksSeen(a), []);
  assert.equal(k.conn.closedWith, undefined);
  send(a, "admit", { channel: "room", peer_id: k.id });
  assert.deepEqual(errors(a), [["unknown_peer", "admit"]], "no longer pending");
  assert.equal(hub.registry.isMember(k.id, "room"), false);
  send(k, "join", { channel: "elsewhere" });
  assert.equal(k.conn.frames("joined").length, 1, "still a working connection");
});

Deno.test("Hub lets exactly one of two hosts' admits of the same person through", () => {
  const { hub, connect, a, b } = lockedRoom();
  send(a, "makeHost", { channel: "room", peer_id: b.id });
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  send(a, "admit", { channel: "room", peer_id: k.id });
  send(b, "admit", { channel: "room", peer_id: k.id });
  assert.equal(k.conn.frames("joined").length, 1);
  assert.deepEqual(errors(k), []);
  assert.deepEqual(errors(a), []);
  assert.deepEqual(errors(b), [["unknown_peer", "admit"]]);
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id, k.id]);
});

Deno.test("Hub still applies the capacity to an admitted knocker", () => {
  const { hub, connect, a } = lockedRoom({ maxPeersPerChannel: 2 });
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  send(a, "admit", { channel: "room", peer_id: k.id });
  assert.deepEqual(errors(k), [["channel_full", "join"]]);
  assert.equal(hub.registry.size("room"), 2);
});

Deno.test("Hub limits knocks: the join budget, and 50 pending per room", () => {
  const { connect } = lockedRoom({ maxKnocksPerRoom: 2 });
  const knockers = [connect(), connect(), connect()];
  for (const k of knockers) send(k, "knock", { channel: "room", userdata: {} });
  assert.deepEqual(errors(knockers[2]), [["rate_limited", "knock"]]);
  const budget = lockedRoom({ joinBurst: 2 });
  const k = budget.connect();
  for (let i = 0; i < 3; i++) send(k, "knock", { channel: "room", userdata: {} });
  assert.deepEqual(errors(k), [["rate_limited", "knock"]]);
  assert.equal(k.conn.frames("knocking").length, 2);
});

Deno.test("Hub lets a knock into an open room in at once", () => {
  const { member, connect } = setup();
  const a = member();
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  assert.deepEqual(k.conn.frames().map((f) => f.event), ["addPeer", "joined"]);
  assert.equal(a.conn.frames("knocks").length, 0);
});

Deno.test("Hub drops a knock when its person leaves, parts, or stays away past the window", () => {
  const { hub, clock, connect, a } = lockedRoom();
  const [gone, parted, away] = [connect(), connect(), connect()];
  for (const k of [gone, parted, away]) send(k, "knock", { channel: "room", userdata: {} });
  assert.deepEqual(knocksSeen(a), [gone.id, parted.id, away.id]);
  gone.session.close({ deliberate: true });
  assert.deepEqual(knocksSeen(a), [parted.id, away.id]);
  send(parted, "part", { channel: "room" });
  assert.deepEqual(parted.conn.frames("parted").map((f) => f.data.channel), ["room"]);
  assert.deepEqual(knocksSeen(a), [away.id]);
  away.session.close({ deliberate: false });
  clock.advance(24_000);
  hub.tick();
  assert.deepEqual(knocksSeen(a), [away.id], "held through the resume window");
  clock.advance(1_000);
  hub.tick();
  assert.deepEqual(knocksSeen(a), []);
});

Deno.test("Hub passes the host role at once when the last host leaves on purpose", () => {
  const { member } = setup();
  const [a, b, c] = [member(), member(), member()];
  a.session.close({ deliberate: true });
  for (const m of [b, c]) assert.deepEqual(stateSeen(m).hosts, [b.id]);
  send(b, "part", { channel: "room" });
  assert.deepEqual(stateSeen(c).hosts, [c.id]);
  send(c, "lock", { channel: "room", locked: true });
  assert.equal(stateSeen(c).locked, true, "the new host acts as host");
});

Deno.test("Hub holds a dropped host's role through the resume window and keeps it on resume", () => {
  const { hub, clock, member, resume } = setup();
  const [a, b] = [member(), member()];
  b.conn.take();
  a.session.close({ deliberate: false });
  clock.advance(20_000);
  hub.tick();
  assert.deepEqual(b.conn.frames("roomState"), [], "no hand-over while away");
  const back = resume(a.token);
  assert.deepEqual(back.session.peerId, a.id);
  send(back, "lock", { channel: "room", locked: true });
  assert.deepEqual(errors(back), []);
  assert.deepEqual(stateSeen(b), { channel: "room", hosts: [a.id], locked: true, password: false });
});

Deno.test("Hub passes a dropped host's role when the resume window passes", () => {
  const { hub, clock, member } = setup();
  const [a, b, c] = [member(), member(), member()];
  a.session.close({ deliberate: false });
  for (const m of [b, c]) m.conn.take();
  clock.advance(25_000);
  hub.tick();
  assert.deepEqual(b.conn.take().map((f) => f.event), ["removePeer", "roomState"]);
  assert.deepEqual(stateSeen(c).hosts, [b.id]);
});

Deno.test("Hub sends the pending knocks to whoever becomes host later", () => {
  const { connect, a, b } = lockedRoom();
  const k = connect();
  send(k, "knock", { channel: "room", userdata: { name: "Kim" } });
  assert.equal(knocksSeen(b), undefined, "not a host yet");
  send(a, "makeHost", { channel: "room", peer_id: b.id });
  assert.deepEqual(knocksSeen(b), [k.id]);
  const c = connect();
  send(c, "knock", { channel: "room", userdata: {} });
  b.conn.take();
  a.session.close({ deliberate: true });
  send(b, "part", { channel: "room" });
  assert.deepEqual(knocksSeen(a), [k.id, c.id]);
  // Nobody is admitted because the room changed hands.
  assert.deepEqual(k.conn.frames("joined"), []);
});

Deno.test("Hub removes a member: removed, 4003, removePeer to all, token refused, browser must knock", () => {
  const { hub, member, connect, resume } = setup();
  const a = member();
  const b = member();
  const t = connect();
  send(t, "join", { channel: "room", userdata: { name: "T" }, browser: "tab-123" });
  for (const m of [a, b, t]) m.conn.take();
  send(a, "remove", { channel: "room", peer_id: t.id });
  assert.deepEqual(t.conn.take(), [{ event: "removed", data: { channel: "room" } }]);
  assert.equal(t.conn.closedWith?.code, 4003);
  for (const m of [a, b]) {
    assert.deepEqual(m.conn.frames("removePeer").map((f) => f.data.peer_id), [t.id]);
  }
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id]);
  const replay = resume(t.token);
  assert.deepEqual(errors(replay), [["bad_token", "resume"]]);
  assert.notEqual(replay.session.peerId, t.id);
  send(replay, "join", { channel: "room", userdata: {}, browser: "tab-123" });
  assert.deepEqual(errors(replay).at(-1), ["room_locked", "join"]);
  send(replay, "knock", { channel: "room", userdata: {}, browser: "tab-123" });
  assert.deepEqual(knocksSeen(a), [replay.id]);
  send(a, "admit", { channel: "room", peer_id: replay.id });
  assert.equal(replay.conn.frames("joined").length, 1, "a host may let them back");
  // Positive control: another browser still joins the open room.
  const other = connect();
  send(other, "join", { channel: "room", userdata: {}, browser: "tab-456" });
  assert.equal(other.conn.frames("joined").length, 1);
});

Deno.test("Hub removes an away member just the same", () => {
  const { hub, member, resume } = setup();
  const [a, b] = [member(), member()];
  b.session.close({ deliberate: false });
  a.conn.take();
  send(a, "remove", { channel: "room", peer_id: b.id });
  assert.deepEqual(a.conn.take().map((f) => f.event), ["removePeer"]);
  assert.equal(hub.awayCount, 0);
  assert.deepEqual(errors(resume(b.token)), [["bad_token", "resume"]]);
});

Deno.test("Hub passes an ask to mute to its target, stamped with the host", () => {
  const { member } = setup();
  const [a, b, c] = [member(), member(), member()];
  c.conn.take();
  send(a, "mute", { channel: "room", peer_id: b.id });
  assert.deepEqual(b.conn.frames("muted"), [{
    event: "muted",
    data: { channel: "room", by: a.id },
  }]);
  assert.deepEqual(c.conn.take(), []);
});

Deno.test("Hub asks for a room's password, checks it off the event loop and never shows it", async () => {
  const lines: string[] = [];
  const logger = {
    enabled: () => true,
    log: (_level: LogLevel, msg: string, fields?: Record<string, unknown>) =>
      lines.push(`${msg} ${JSON.stringify(fields)}`),
  };
  const { hub, member, connect } = setup({ logger });
  const [a, b] = [member(), member()];
  send(a, "setPassword", { channel: "room", password: "open sesame" });
  await settled(b, "roomState", "roomState after setPassword");
  await until(() => stateSeen(b).password === true, "password: true", { turns: 20_000 });
  const k = connect();
  send(k, "join", { channel: "room", userdata: {} });
  assert.deepEqual(errors(k), [["password_required", "join"]]);
  send(k, "join", { channel: "room", userdata: {}, password: "guess" });
  assert.deepEqual(errors(k).length, 1, "no answer before the hash is done");
  await until(() => errors(k).length === 2, "wrong_password", { turns: 20_000 });
  assert.deepEqual(errors(k)[1], ["wrong_password", "join"]);
  send(k, "join", { channel: "room", userdata: {}, password: "open sesame" });
  await settled(k, "joined", "the join with the right password");
  assert.equal(stateSeen(k).password, true);
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id, k.id]);
  const everything = [a, b, k].flatMap((m) => m.conn.sent).join("\n") + lines.join("\n");
  assert.equal(everything.includes("open sesame"), false, "the password is in no frame or log");
  assert.equal(everything.includes(hub.roomsSnapshot()[0].password!.hash), false, "nor the hash");
  // Clearing it opens the room again.
  send(a, "setPassword", { channel: "room", password: null });
  assert.equal(stateSeen(b).password, false);
});

Deno.test("Hub stops hashing after five wrong passwords and answers rate_limited", async () => {
  const { member, connect } = setup();
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  await until(() => stateSeen(a).password === true, "the password set", { turns: 20_000 });
  const k = connect();
  for (let i = 0; i < 10; i++) send(k, "join", { channel: "room", userdata: {}, password: "x" });
  await until(() => errors(k).length === 10, "ten answers", { turns: 50_000 });
  assert.deepEqual(errors(k).map(([code]) => code), [
    ...Array(5).fill("wrong_password"),
    ...Array(5).fill("rate_limited"),
  ]);
  // Refused without hashing: the answer comes at once, before any await.
  send(k, "join", { channel: "room", userdata: {}, password: "right" });
  assert.deepEqual(errors(k).at(-1), ["rate_limited", "join"]);
  // Positive control: another connection is not affected.
  const other = connect();
  send(other, "join", { channel: "room", userdata: {}, password: "right" });
  await settled(other, "joined", "another connection's right password");
});

Deno.test("Hub limits wrong passwords per address across connections", async () => {
  const { member, hub } = setup({
    passwordTriesPerAddress: 3,
    passwordTriesPerAddressPerRoom: 100,
  });
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  await until(() => stateSeen(a).password === true, "the password set", { turns: 20_000 });
  const sessions = Array.from({ length: 4 }, () => {
    const conn = new FakeConnection();
    return { conn, session: hub.connect(conn, { address: "198.51.100.1" }) };
  });
  // One after another: one network has at most two places in the hashing queue at once.
  for (const s of sessions) {
    s.session.receive(frame("join", { channel: "room", password: "x" }));
    await until(() => s.conn.frames("error").length > 0, "the guess answered", { turns: 50_000 });
  }
  assert.deepEqual(sessions.map((s) => s.conn.frames("error")[0].data.code), [
    "wrong_password",
    "wrong_password",
    "wrong_password",
    "rate_limited",
  ]);
});

Deno.test("Hub handles a connection's frames in order behind a password check", async () => {
  const { member, connect } = setup();
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  // Frames right behind the setPassword wait for its hash.
  send(a, "lock", { channel: "room", locked: true });
  await until(() => stateSeen(a)?.locked === true, "the lock after the password", {
    turns: 20_000,
  });
  assert.deepEqual(
    a.conn.frames("roomState").slice(-2).map((f) => [f.data.password, f.data.locked]),
    [
      [true, false],
      [true, true],
    ],
  );
  send(a, "lock", { channel: "room", locked: false });
  const k = connect();
  send(k, "join", { channel: "room", userdata: {}, password: "right" });
  send(k, "relayICECandidate", { peer_id: a.id, ice_candidate: CANDIDATE });
  send(k, "part", { channel: "room" });
  await settled(k, "parted", "the part after the join");
  assert.deepEqual(
    k.conn.frames().map((f) => f.event).filter((e) => e !== "roomState"),
    ["addPeer", "joined", "removePeer", "parted"],
  );
  assert.deepEqual(a.conn.frames("iceCandidate").map((f) => f.data.peer_id), [k.id]);
});

Deno.test("Hub lets an admitted knocker in without the password", async () => {
  const { connect, member } = setup();
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  await until(() => stateSeen(a)?.password === true, "the password set", { turns: 20_000 });
  send(a, "lock", { channel: "room", locked: true });
  const k = connect();
  send(k, "knock", { channel: "room", userdata: {} });
  send(a, "admit", { channel: "room", peer_id: k.id });
  assert.equal(k.conn.frames("joined").length, 1);
});

Deno.test("Hub keeps hosts, lock, password and knocks across a restart", async () => {
  const first = setup();
  const [a, b] = [first.member(), first.member()];
  send(a, "setPassword", { channel: "room", password: "right" });
  await until(() => stateSeen(b)?.password === true, "the password set", { turns: 20_000 });
  send(a, "lock", { channel: "room", locked: true });
  const k = first.connect();
  send(k, "knock", { channel: "room", userdata: { name: "Kim" } });
  const stranger = first.member("elsewhere");
  // Saved to disk and read back, as server.ts does.
  const dir = await Deno.makeTempDir();
  try {
    await saveRooms(dir, first.hub.roomsSnapshot());
    const rooms = await loadRooms(dir);
    const second = setup({ rooms, newId: () => `new-${crypto.randomUUID()}` });
    const rb = second.resume(b.token);
    const intruder = second.resume(stranger.token);
    assert.deepEqual(errors(intruder), [["room_locked", "join"]], "was never inside");
    const ra = second.resume(a.token);
    const rk = second.resume(k.token, []);
    assert.deepEqual(stateSeen(rb), {
      channel: "room",
      hosts: [a.id],
      locked: true,
      password: true,
    });
    assert.deepEqual(knocksSeen(ra), [k.id], "the host comes back to the pending list");
    send(ra, "admit", { channel: "room", peer_id: k.id });
    assert.equal(rk.conn.frames("joined").length, 1);
    const late = second.connect();
    send(late, "join", { channel: "room", userdata: {} });
    assert.deepEqual(errors(late), [["room_locked", "join"]]);
    // After the window, the state of those who never came back goes.
    second.clock.advance(25_000);
    second.hub.tick();
    assert.deepEqual(second.hub.roomsSnapshot().map((r) => r.channel), ["room"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Hub gives a restored room's host role on when its host does not come back", () => {
  const first = setup();
  const [a, b] = [first.member(), first.member()];
  send(a, "lock", { channel: "room", locked: true });
  const second = setup({ rooms: first.hub.roomsSnapshot() });
  const rb = second.resume(b.token);
  assert.deepEqual(stateSeen(rb).hosts, [a.id], "held for a while");
  second.clock.advance(25_000);
  second.hub.tick();
  assert.deepEqual(stateSeen(rb), {
    channel: "room",
    hosts: [b.id],
    locked: true,
    password: false,
  });
});

Deno.test("Hub treats a v1 client in an open room as before", () => {
  const { member } = setup();
  const a = member();
  const b = member();
  assert.deepEqual(b.conn.takeV1().map((f) => f.event), ["addPeer", "joined"]);
  assert.deepEqual(a.conn.takeV1().map((f) => f.event), ["joined", "addPeer"]);
  assert.equal(
    JSON.stringify(b.conn.frames()).includes("browser"),
    false,
    "browser ids are never relayed",
  );
});

Deno.test("Hub bounds the frames waiting behind a password hash", async () => {
  const { member } = setup();
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  for (let i = 0; i < 70; i++) send(a, "lock", { channel: "room", locked: i % 2 === 0 });
  assert.deepEqual(errors(a), Array(6).fill(["rate_limited", undefined]));
  await until(() => a.conn.frames("roomState").length === 65, "the 64 waiting locks handled", {
    turns: 20_000,
  });
  assert.equal(stateSeen(a).locked, false, "in order: the 64th waiting frame unlocks");
});
