/**
 * The cluster faults the fault-injection review found (issue 23), each
 * written as the exact order of ops that caused it, on the in-memory bus
 * (`_memory_bus.ts`): the same every run, no Redis, no timing.
 */

import assert from "node:assert/strict";
import { TokenSigner } from "../lib/token.ts";
import { SECRET } from "./_helpers.ts";
import { MemoryCluster, type MemoryPerson } from "./_memory_bus.ts";

/** Instances `names` on one in-memory log, and `join` to put people in "room". */
function cluster(...names: string[]) {
  const c = new MemoryCluster();
  for (const name of names) c.start(name);
  const join = (instance: string): MemoryPerson => {
    const person = c.connect(instance);
    person.send("join", { channel: "room", userdata: { name: person.id } });
    c.settle();
    assert.equal(person.got("joined").length, 1, `${person.id} joined on ${instance}`);
    return person;
  };
  return { c, join };
}

Deno.test("Cluster fault 1: a clean leave after a lost window-expiry leave removes the person everywhere", () => {
  const { c, join } = cluster("x", "y");
  const ann = join("x");
  const bob = join("y");
  ann.close(false);
  c.settle(); // away
  // X's window passes: it proposes Ann's leave. Meanwhile Ann resumes on Y,
  // and that resume is ordered first: X's leave is stale and ignored.
  c.clock.advance(25_000);
  c.tick();
  const onY = c.resume("y", ann);
  c.append("y");
  c.append("x");
  c.run();
  c.settle();
  assert.equal(onY.got("resumed").length, 1);
  assert.deepEqual(c.views(), { x: [ann.id, bob.id], y: [ann.id, bob.id] }, "Ann stayed");
  // Later Ann comes back to X and leaves cleanly there.
  onY.close(false);
  c.settle();
  const backOnX = c.resume("x", onY);
  c.settle();
  assert.equal(backOnX.got("resumed").length, 1);
  backOnX.close(true);
  c.settle();
  assert.deepEqual(c.views(), { x: [bob.id], y: [bob.id] }, "no ghost of Ann anywhere");
  assert.deepEqual(bob.got("removePeer").map((f) => f.data.peer_id), [ann.id]);
});

Deno.test("Cluster fault 2: a resume in time is never undone by the window-expiry leave queued behind it", () => {
  const { c, join } = cluster("x", "y");
  const ann = join("x");
  const bob = join("y");
  ann.close(false);
  c.settle();
  // Redis is paused: Ann resumes on X a second after the drop, and X's
  // window passes before either op is ordered. Both queue, the resume first.
  c.clock.advance(1000);
  const back = c.resume("x", ann);
  c.clock.advance(24_000);
  c.tick();
  c.settle();
  assert.equal(back.got("resumed").length, 1);
  assert.equal(back.conn.closedWith, undefined, "the resumed socket stays open");
  assert.deepEqual(c.views(), { x: [ann.id, bob.id], y: [ann.id, bob.id] });
  assert.deepEqual(bob.got("removePeer"), [], "Bob never lost Ann");
  // Positive control: a later clean leave still removes her.
  back.close(true);
  c.settle();
  assert.deepEqual(c.views(), { x: [bob.id], y: [bob.id] });
});

Deno.test("Cluster fault 7: a stale resume from a killed instance never takes the live socket", () => {
  const { c, join } = cluster("x", "y", "z");
  const ann = join("x");
  const bob = join("y");
  ann.close(false);
  c.settle();
  // Ann's client resumes on Z, whose op is on its way when Z is SIGKILLed…
  const onZ = c.resume("z", ann);
  const stale = c.bus("z")!.outbox.shift()!;
  c.kill("z");
  assert.ok(onZ.got("resumed").length === 0);
  // …so the client resumes on Y, which goes through first.
  const onY = c.resume("y", ann);
  c.settle();
  assert.equal(onY.got("resumed").length, 1);
  // Then Z's resume arrives, late.
  c.appendOp(stale);
  c.appendOp({ op: "dead", instance: "z" });
  c.run();
  c.settle();
  c.clock.advance(30_000);
  c.tick();
  c.settle();
  assert.equal(onY.conn.closedWith, undefined, "no 4001 for the live socket");
  assert.deepEqual(c.views(), { x: [ann.id, bob.id], y: [ann.id, bob.id] }, "Ann is still in");
  assert.deepEqual(bob.got("removePeer"), []);
});

Deno.test("Cluster: a resume after its instance died brings who came and who went meanwhile", () => {
  const { c, join } = cluster("x", "y");
  const ann = join("x");
  const bob = join("y");
  const dee = join("y");
  ann.close(false);
  c.settle();
  // While Ann is away on X, Cid joins and Dee leaves (X holds those frames)…
  const cid = join("y");
  dee.close(true);
  c.settle();
  // …and X dies with them.
  c.kill("x");
  c.appendOp({ op: "dead", instance: "x" });
  c.run();
  const back = c.resume("y", ann);
  c.settle();
  const resumed = back.got("resumed")[0].data;
  assert.deepEqual(resumed.peers.sort(), [bob.id, cid.id].sort(), "the members now");
  const introduced = back.got("addPeer");
  const toCid = introduced.find((f) => f.data.peer_id === cid.id);
  assert.ok(toCid !== undefined, "introduced to Cid, whom it never met");
  assert.equal(toCid.data.should_create_offer, false, "Cid offers, as a newcomer does");
  assert.deepEqual(
    cid.got("peerBack").map((f) => f.data.peer_id),
    [ann.id],
    "Cid hears she is back",
  );
});

Deno.test("Cluster: restored rooms stop waiting for their members by an op, alike on every instance", () => {
  const c = new MemoryCluster();
  // The first instance back after every instance stopped: Hal hosted, Mia was there too.
  c.start("x", {
    rooms: [{
      channel: "room",
      hosts: ["hal"],
      locked: true,
      password: null,
      members: ["hal", "mia"],
      browsers: [],
      knocks: [],
      removed: [],
    }],
  });
  const token = new TokenSigner(SECRET).sign({ peerId: "mia", expiresAt: c.clock.ms + 60_000 });
  const mia = c.connect("x");
  mia.send("resume", { token, channels: [{ channel: "room", userdata: {} }] });
  c.settle();
  assert.equal(mia.got("resumed").length, 1, "Mia is back, past the lock");
  // A second instance starts while the room still waits for Hal.
  c.start("y");
  c.clock.advance(25_000);
  c.tick();
  c.settle();
  const hosts = (name: string) => c.hubs.get(name)!.roomsSnapshot()[0].hosts;
  assert.deepEqual(hosts("x"), ["mia"], "Hal did not come back: Mia hosts");
  assert.deepEqual(hosts("y"), ["mia"], "the same on the instance that started meanwhile");
  assert.deepEqual(mia.got("roomState").at(-1)?.data.hosts, ["mia"]);
});

Deno.test("Cluster: an instance taking the rooms again keeps its own join still on its way", () => {
  const { c, join } = cluster("a", "b");
  const bob = join("b");
  const ann = c.connect("a");
  ann.send("join", { channel: "room", userdata: {} }); // on its way…
  ann.close(false); // …when her socket drops
  c.resync("a", "b"); // and A takes B's rooms meanwhile
  c.settle();
  for (let i = 0; i < 4; i++) {
    c.clock.advance(30_000);
    c.tick();
    c.settle();
  }
  assert.deepEqual(c.views(), { a: [bob.id], b: [bob.id] }, "she is gone everywhere: no phantom");
});

Deno.test("Cluster: a socket that closes while its resume is on its way leaves nothing held", () => {
  const { c, join } = cluster("a", "b");
  const ann = join("a");
  ann.close(false);
  c.settle();
  const back = c.resume("a", ann);
  back.close(false); // gone before the resume applied
  c.settle();
  for (let i = 0; i < 4; i++) {
    c.clock.advance(30_000);
    c.tick();
    c.settle();
  }
  assert.equal(c.hubs.get("a")!.awayCount, 0, "no record held for the welcome id");
  assert.deepEqual(c.views(), { a: [], b: [] });
});

Deno.test("Cluster: a resume let go while its instance took the rooms again is held away, then gone", () => {
  const { c, join } = cluster("a", "b", "c");
  const ann = join("a");
  const bob = join("c");
  c.kill("a"); // her instance dies…
  c.appendOp({ op: "dead", instance: "a" });
  c.settle();
  const back = c.resume("b", ann); // …she resumes on B…
  c.resync("b", "c"); // …which takes C's rooms before her resume applies: let go (1013)
  assert.equal(back.conn.closedWith?.code, 1013, "told to connect again");
  back.close(false); // the transport's close event
  c.settle(); // her resume applies on every instance, with no socket waiting for it on B
  assert.deepEqual(c.views(), { b: [ann.id, bob.id], c: [ann.id, bob.id] }, "held for her window");
  for (let i = 0; i < 2; i++) {
    c.clock.advance(30_000);
    c.tick();
    c.settle();
  }
  assert.deepEqual(c.views(), { b: [bob.id], c: [bob.id] }, "never back: gone everywhere");
  assert.deepEqual(bob.got("removePeer").map((f) => f.data.peer_id), [ann.id]);
});

Deno.test("Cluster: a resume that moves before its instance is declared dead renegotiates both sides", () => {
  const { c, join } = cluster("x", "y");
  const ann = join("x");
  const bob = join("y");
  // X dies; Ann resumes on Y before anyone declares X dead (she was never away).
  c.kill("x");
  const back = c.resume("y", ann);
  c.settle();
  assert.equal(back.got("resumed").length, 1);
  // Bob's offer or answer to her may have died with X, and hers to him: both negotiate again.
  assert.deepEqual(
    bob.got("peerBack").map((f) => f.data.peer_id),
    [ann.id],
    "Bob hears she is back",
  );
  assert.deepEqual(back.got("peerBack").map((f) => f.data.peer_id), [bob.id], "she hears Bob is");
  assert.deepEqual(bob.got("peerAway"), [], "never said away");
});

Deno.test("Cluster: a resume an instance skipped by taking the rooms still introduces the person to who came", () => {
  const { c, join } = cluster("x", "y", "z");
  const ann = join("x");
  join("y");
  c.kill("x"); // Ann's instance dies…
  c.appendOp({ op: "dead", instance: "x" });
  c.settle();
  const cid = join("y"); // …Cid comes meanwhile (his offer to Ann died with X)…
  const back = c.resume("z", ann); // …Ann resumes on Z…
  c.append("z"); // her resume is in the order, and Y applies it;
  c.resync("z", "y"); // Z takes Y's rooms instead of applying it: her socket is let go (1013)
  assert.equal(back.conn.closedWith?.code, 1013);
  back.close(false);
  c.settle();
  const again = c.resume("z", ann, ["room"], c.tokenOf(ann)); // she resumes again
  c.settle();
  assert.equal(again.got("resumed").length, 1);
  assert.ok(
    again.got("addPeer").some((f) => f.data.peer_id === cid.id),
    "introduced to Cid, whom she never met",
  );
});
