/**
 * The door question end to end through the hub: what `door` answers, how a
 * watcher follows a room's door, what it costs and what it never tells —
 * and, on the in-memory cluster, a watcher on one instance following a
 * lock made on another.
 */

import assert from "node:assert/strict";
import { frame, type Member, resumableHubFixture } from "./_helpers.ts";
import { MemoryCluster } from "./_memory_bus.ts";
import { until } from "./_wait.ts";

function send(m: Member, event: string, data: unknown) {
  m.session.receive(frame(event, data));
}

/** The doors `m` was told, in order. */
function doors(m: Member): string[] {
  return m.conn.frames("door").map((f) => f.data.door);
}

/** Host `a` in "room", with an asker `x` that has not asked yet. */
function roomWithAsker() {
  const fixture = resumableHubFixture();
  const a = fixture.member();
  const x = fixture.connect();
  a.conn.take();
  return { ...fixture, a, x };
}

Deno.test("Hub answers door with open, locked or password, a lock before a password", async () => {
  const { a, x } = roomWithAsker();
  send(x, "door", { channel: "room" });
  send(a, "lock", { channel: "room", locked: true });
  send(a, "setPassword", { channel: "room", password: "open sesame" });
  await until(() => a.conn.frames("roomState").length === 2, "roomState after setPassword", {
    turns: 20_000,
  });
  assert.deepEqual(doors(x), ["open", "locked"], "a password behind a lock changes nothing");
  send(a, "lock", { channel: "room", locked: false });
  assert.deepEqual(doors(x), ["open", "locked", "password"]);
  send(a, "setPassword", { channel: "room", password: null });
  assert.deepEqual(doors(x), ["open", "locked", "password", "open"]);
  // Exactly the room asked about and its door: no names, ids or count.
  assert.deepEqual(x.conn.frames("door")[0], {
    event: "door",
    data: { channel: "room", door: "open" },
  });
});

Deno.test("Hub answers door for an unknown room exactly as for an open one, and creates nothing", () => {
  const { hub, a, x, connect } = roomWithAsker();
  const y = connect();
  send(x, "door", { channel: "room" });
  send(y, "door", { channel: "nobody-here" });
  assert.deepEqual(x.conn.frames().map((f) => f.data.door), ["open"]);
  assert.deepEqual(y.conn.frames().map((f) => f.data.door), ["open"]);
  assert.equal(x.conn.sent[0].replace('"room"', '"nobody-here"'), y.conn.sent[0]);
  assert.equal(hub.roomsSnapshot().length, 1, "asking made no room");
  assert.equal(hub.channelCount, 1);
  assert.deepEqual(a.conn.take(), [], "members hear nothing of an asker");
  // The first one into the unknown room is still its host: asking took no place.
  const b = resumableHubFixture().member("nobody-here");
  assert.deepEqual(b.conn.frames("joined")[0].data.room_state.hosts, [b.id]);
});

Deno.test("Hub refuses a door question with a bad channel, changing nothing", () => {
  const { x } = roomWithAsker();
  send(x, "door", { channel: "../etc" });
  send(x, "door", {});
  assert.deepEqual(
    x.conn.frames().map((f) => [f.event, f.data.code, f.data.event]),
    [["error", "bad_request", "door"], ["error", "bad_request", "door"]],
  );
});

Deno.test("Hub tells a door watcher when the meeting ends and its locked door opens", () => {
  const { a, x } = roomWithAsker();
  send(a, "lock", { channel: "room", locked: true });
  send(x, "door", { channel: "room" });
  assert.deepEqual(doors(x), ["locked"]);
  a.session.close({ deliberate: true });
  assert.deepEqual(doors(x), ["locked", "open"], "an unused room is open");
});

Deno.test("Hub keeps one door watch per connection: another room, a join and a close end it", () => {
  const { a, x, connect } = roomWithAsker();
  const y = connect();
  const z = connect();
  send(x, "door", { channel: "room" });
  send(x, "door", { channel: "elsewhere" });
  send(y, "door", { channel: "room" });
  send(z, "door", { channel: "room" });
  z.session.close({ deliberate: true });
  send(a, "lock", { channel: "room", locked: true });
  // Positive control: y still watches and hears it.
  assert.deepEqual(doors(y), ["open", "locked"]);
  assert.deepEqual(doors(x), ["open", "open"], "x moved on to another room");
  assert.deepEqual(doors(z), ["open"], "a closed connection hears nothing");
  // A join (refused here: locked) ends the watch.
  send(y, "join", { channel: "room" });
  send(a, "lock", { channel: "room", locked: false });
  assert.deepEqual(doors(y), ["open", "locked"]);
  // Asked again, it watches again.
  send(y, "door", { channel: "room" });
  send(a, "lock", { channel: "room", locked: true });
  assert.deepEqual(doors(y), ["open", "locked", "open", "locked"]);
});

Deno.test("Hub counts a door question against the join budget of the connection and the address", () => {
  const { connect } = resumableHubFixture({ joinBurst: 3 });
  const x = connect("198.51.100.7");
  for (let i = 0; i < 4; i++) send(x, "door", { channel: `room${i}` });
  assert.equal(doors(x).length, 3);
  assert.deepEqual(
    x.conn.frames("error").map((f) => [f.data.code, f.data.event]),
    [["rate_limited", "door"]],
  );
  // The same budget as a join: a join now is refused too.
  send(x, "join", { channel: "room" });
  assert.deepEqual(x.conn.frames("error").at(-1)?.data.code, "rate_limited");
  assert.equal(x.conn.frames("joined").length, 0);
  // The address's budget (ten connections' worth) is spent across connections.
  let answered = 3;
  for (let i = 0; i < 12; i++) {
    const y = connect("198.51.100.7");
    for (let j = 0; j < 3; j++) send(y, "door", { channel: "room" });
    answered += doors(y).length;
  }
  assert.equal(answered, 30);
  // Positive control: another address still asks.
  const z = connect("192.0.2.1");
  send(z, "door", { channel: "room" });
  assert.deepEqual(doors(z), ["open"]);
});

Deno.test("Hub still closes an idle connection that only asked at a door, and lets it resume first", () => {
  const { hub, clock, connect, member } = resumableHubFixture({ joinTimeoutMs: 15_000 });
  const asker = connect();
  const joiner = connect();
  send(asker, "door", { channel: "room" });
  send(joiner, "door", { channel: "room" });
  send(joiner, "join", { channel: "room" });
  clock.advance(15_000);
  hub.tick();
  assert.equal(asker.conn.closedWith?.code, 1008, "asking is not joining");
  assert.equal(asker.conn.closedWith?.reason, "join or resume within the timeout");
  assert.equal(joiner.conn.closedWith, undefined, "positive control: a joiner stays");
  // A resume after a door question is still the connection's first frame.
  const b = member();
  b.session.close({ deliberate: false });
  const back = connect();
  send(back, "door", { channel: "room" });
  send(back, "resume", { token: b.token, channels: [{ channel: "room", userdata: {} }] });
  assert.deepEqual(back.conn.frames("resumed").map((f) => f.data.peer_id), [b.id]);
  assert.equal(back.conn.frames("error").length, 0);
});

Deno.test("Hub tells a v1 member nothing new when someone asks at its door", () => {
  const { a, x } = roomWithAsker();
  send(x, "door", { channel: "room" });
  send(x, "door", { channel: "room" });
  assert.deepEqual(a.conn.take(), []);
  assert.deepEqual(doors(x), ["open", "open"]);
});

Deno.test("Cluster: a door watcher on one instance follows a lock and a password set on another", async () => {
  const cluster = new MemoryCluster();
  cluster.start("a");
  cluster.start("b");
  const host = cluster.connect("a");
  host.send("join", { channel: "room", userdata: {} });
  cluster.settle();
  const watcher = cluster.connect("b");
  watcher.send("door", { channel: "room" });
  const seen = () => watcher.got("door").map((f) => f.data.door);
  assert.deepEqual(seen(), ["open"]);
  host.send("lock", { channel: "room", locked: true });
  assert.deepEqual(seen(), ["open"], "not before the op comes back through the order");
  cluster.settle();
  assert.deepEqual(seen(), ["open", "locked"]);
  host.send("lock", { channel: "room", locked: false });
  host.send("setPassword", { channel: "room", password: "open sesame" });
  cluster.settle();
  await until(
    () => {
      cluster.settle();
      return seen().length === 4;
    },
    "the watcher on b hears the password",
    { turns: 20_000 },
  );
  assert.deepEqual(seen(), ["open", "locked", "open", "password"]);
  // The host's own instance has no watcher to tell: nothing extra there.
  assert.equal(host.got("door").length, 0);
});

Deno.test("Hub answers a removed browser's door question locked, and tells its watch of the removal", () => {
  const { a, connect } = roomWithAsker();
  const b = connect();
  send(b, "join", { channel: "room", userdata: {}, browser: "bbb" });
  const asker = connect();
  send(asker, "door", { channel: "room", browser: "bbb" });
  const other = connect();
  send(other, "door", { channel: "room", browser: "ccc" });
  send(a, "remove", { channel: "room", peer_id: b.id });
  assert.deepEqual(doors(asker), ["open", "locked"], "the same browser is kept out now");
  assert.deepEqual(doors(other), ["open"], "positive control: another browser is not");
  const later = connect();
  send(later, "door", { channel: "room", browser: "bbb" });
  assert.deepEqual(doors(later), ["locked"]);
});
