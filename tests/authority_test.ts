/** The room policy of lib/authority.ts alone, on an injected clock. */

import assert from "node:assert/strict";
import { Authority, type Knock, parseRoomSnapshots } from "../lib/authority.ts";
import type { PasswordRecord } from "../lib/password.ts";
import { FakeClock } from "./_helpers.ts";

const RECORD: PasswordRecord = { salt: "c2FsdA==", hash: "aGFzaA==", iterations: 100_000 };

function knock(peerId: string, extra: Partial<Knock> = {}): Knock {
  return { peerId, name: peerId.toUpperCase(), userdata: { name: peerId }, ...extra };
}

function setup(options: ConstructorParameters<typeof Authority>[0] = {}) {
  const clock = new FakeClock();
  const authority = new Authority({ now: clock.now, restoreGraceMs: 25_000, ...options });
  return { clock, authority };
}

Deno.test("Authority makes the first one into a room its host, and only them", () => {
  const { authority } = setup();
  assert.deepEqual(authority.entered("room", "a"), { hosts: true, knocks: false, newHosts: ["a"] });
  assert.deepEqual(authority.entered("room", "b"), { hosts: false, knocks: false, newHosts: [] });
  assert.deepEqual(authority.stateOf("room"), {
    channel: "room",
    hosts: ["a"],
    locked: false,
    password: false,
  });
  assert.equal(authority.isHost("room", "b"), false);
  assert.equal(authority.isHost("other", "a"), false, "a host of one room only");
});

Deno.test("Authority passes the host role at once to the member present longest", () => {
  const { authority } = setup();
  for (const id of ["a", "b", "c"]) authority.entered("room", id);
  assert.deepEqual(authority.left("room", "c"), { hosts: false, knocks: false, newHosts: [] });
  authority.entered("room", "d");
  assert.deepEqual(authority.left("room", "a"), { hosts: true, knocks: false, newHosts: ["b"] });
  assert.deepEqual(authority.hostsOf("room"), ["b"]);
  // With two hosts, one leaving passes nothing on.
  assert.equal(authority.makeHost("room", "d"), true);
  assert.equal(authority.makeHost("room", "d"), false, "already host");
  assert.equal(authority.makeHost("room", "zed"), false, "not a member");
  assert.deepEqual(authority.left("room", "b"), { hosts: true, knocks: false, newHosts: [] });
  assert.deepEqual(authority.hostsOf("room"), ["d"]);
});

Deno.test("Authority drops a room's state when nobody is in it or knocking", () => {
  const { authority } = setup();
  authority.entered("room", "a");
  authority.setLocked("room", true);
  assert.equal(authority.knock("room", knock("k")), "queued");
  authority.left("room", "a");
  assert.equal(authority.roomCount, 1, "a knock keeps it");
  assert.equal(authority.stateOf("room")?.locked, true);
  assert.deepEqual(authority.forget("k"), ["room"]);
  assert.equal(authority.roomCount, 0);
  // A new meeting in that room starts open, with a new host.
  authority.entered("room", "z");
  assert.deepEqual(authority.stateOf("room"), {
    channel: "room",
    hosts: ["z"],
    locked: false,
    password: false,
  });
});

Deno.test("Authority refuses joins into a locked room but lets the admitted and returning in", () => {
  const { authority } = setup();
  assert.deepEqual(authority.admit("room", "x", { entry: "join" }), { ok: true }, "no state");
  authority.entered("room", "a");
  assert.equal(authority.setLocked("room", true), true);
  assert.equal(authority.setLocked("room", true), false, "no change");
  assert.deepEqual(authority.admit("room", "x", { entry: "join" }), {
    ok: false,
    code: "room_locked",
  });
  assert.deepEqual(authority.admit("room", "x", { entry: "admitted" }), { ok: true });
  assert.deepEqual(authority.admit("room", "a", { entry: "rejoin" }), { ok: true });
  assert.deepEqual(authority.admit("room", "x", { entry: "rejoin" }), {
    ok: false,
    code: "room_locked",
  }, "a token proves who, not where");
  authority.setLocked("room", false);
  assert.deepEqual(authority.admit("room", "x", { entry: "join" }), { ok: true });
});

Deno.test("Authority treats a removed browser's join as a locked room's", () => {
  const { authority } = setup();
  authority.entered("room", "a");
  authority.entered("room", "b", { browser: "browser-b" });
  authority.rememberRemoved("room", "b");
  authority.left("room", "b");
  assert.deepEqual(authority.admit("room", "b2", { entry: "join", browser: "browser-b" }), {
    ok: false,
    code: "room_locked",
  });
  assert.deepEqual(authority.admit("room", "c", { entry: "join", browser: "browser-c" }), {
    ok: true,
  });
  assert.deepEqual(authority.admit("room", "b2", { entry: "admitted", browser: "browser-b" }), {
    ok: true,
  });
  assert.equal(authority.knock("room", knock("b2", { browser: "browser-b" })), "queued");
  assert.equal(authority.knock("room", knock("c", { browser: "browser-c" })), "enter");
});

Deno.test("Authority asks for a password and names the record to check it against", () => {
  const { authority } = setup();
  authority.entered("room", "a");
  authority.setPassword("room", RECORD);
  assert.equal(authority.stateOf("room")?.password, true);
  assert.equal(JSON.stringify(authority.stateOf("room")).includes(RECORD.hash), false);
  assert.deepEqual(authority.admit("room", "x", { entry: "join" }), {
    ok: false,
    code: "password_required",
  });
  assert.deepEqual(authority.admit("room", "x", { entry: "join", password: "pw" }), {
    ok: true,
    verify: RECORD,
  });
  assert.deepEqual(authority.admit("room", "x", { entry: "admitted" }), { ok: true });
  assert.equal(authority.knock("room", knock("x")), "queued", "a password room can be knocked");
  authority.setPassword("room", null);
  assert.deepEqual(authority.admit("room", "y", { entry: "join" }), { ok: true });
});

Deno.test("Authority queues knocks once each, at most the room's limit, oldest first", () => {
  const { authority } = setup({ maxKnocksPerRoom: 3 });
  assert.equal(authority.knock("room", knock("x")), "enter", "nobody there: just join");
  authority.entered("room", "a");
  assert.equal(authority.knock("room", knock("x")), "enter", "unlocked: just join");
  authority.setLocked("room", true);
  for (const id of ["k1", "k2", "k1", "k3"]) {
    assert.equal(authority.knock("room", knock(id)), "queued");
  }
  assert.equal(authority.knock("room", knock("k4")), "full");
  assert.deepEqual(authority.knocksOf("room").map((k) => k.peer_id), ["k1", "k2", "k3"]);
  assert.deepEqual(authority.knocksOf("room")[0], { peer_id: "k1", name: "K1" });
  // The first answer takes the knock; a second answer finds nothing.
  assert.equal(authority.takeKnock("room", "k2")?.peerId, "k2");
  assert.equal(authority.takeKnock("room", "k2"), undefined);
  assert.equal(authority.isKnocking("room", "k1"), true);
  const change = authority.entered("room", "k1");
  assert.equal(change.knocks, true, "entering ends a knock");
  assert.deepEqual(authority.knocksOf("room").map((k) => k.peer_id), ["k3"]);
});

Deno.test("Authority restores saved rooms, lets their members back and passes roles they abandoned", () => {
  const first = setup();
  const { authority } = first;
  for (const id of ["a", "b", "c"]) authority.entered("room", id, { browser: `br-${id}` });
  authority.setLocked("room", true);
  authority.setPassword("room", RECORD);
  authority.knock("room", knock("k"));
  authority.knock("room", knock("gone"));
  authority.entered("open", "o");
  // Saved as JSON, read back field by field.
  const saved = parseRoomSnapshots(JSON.parse(JSON.stringify(authority.snapshot())));
  assert.deepEqual(saved, authority.snapshot());

  const { clock, authority: restored } = setup({ restored: saved });
  assert.deepEqual(restored.stateOf("room"), {
    channel: "room",
    hosts: ["a"],
    locked: true,
    password: true,
  });
  assert.deepEqual(restored.knocksOf("room").map((k) => k.peer_id), ["k", "gone"]);
  assert.deepEqual(restored.admit("room", "b", { entry: "rejoin" }), { ok: true });
  assert.deepEqual(restored.admit("room", "x", { entry: "rejoin" }), {
    ok: false,
    code: "room_locked",
  });
  restored.entered("room", "b");
  restored.entered("room", "c");
  assert.deepEqual(restored.hostsOf("room"), ["a"], "the host's role is held for its return");
  clock.advance(24_999);
  assert.equal(restored.sweep(() => true).size, 0, "not before the grace ends");
  clock.advance(1);
  const changes = restored.sweep((id) => id === "k");
  assert.deepEqual(changes.get("room"), { hosts: true, knocks: true, newHosts: ["b"] });
  assert.deepEqual(restored.knocksOf("room").map((k) => k.peer_id), ["k"]);
  assert.equal(restored.stateOf("open"), undefined, "a room nobody came back to is dropped");
  assert.deepEqual(restored.admit("room", "a", { entry: "rejoin" }), {
    ok: false,
    code: "room_locked",
  }, "too late");
});

Deno.test("Authority reads saved rooms defensively", () => {
  assert.deepEqual(parseRoomSnapshots("junk"), []);
  assert.deepEqual(parseRoomSnapshots([{ channel: "no way" }, { channel: "r", password: 7 }]), []);
  const [room] = parseRoomSnapshots([{
    channel: "r",
    hosts: ["a", 7, ""],
    locked: "yes",
    password: null,
    members: ["a"],
    browsers: [["a", "b"], ["x"]],
    knocks: [{ peerId: "k", name: "\u202eevil", userdata: {} }, { peerId: 1 }],
    removed: ["z"],
    extra: "dropped",
  }]);
  assert.deepEqual(room, {
    channel: "r",
    hosts: ["a"],
    locked: false,
    password: null,
    members: ["a"],
    browsers: [["a", "b"]],
    knocks: [{ peerId: "k", name: "evil", userdata: {} }],
    removed: ["z"],
  });
});
