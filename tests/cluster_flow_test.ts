import assert from "node:assert/strict";
import { eventually, FAST, type Instance, joined, type Person, startInstance } from "./_cluster.ts";
import { CANDIDATE, OFFER } from "./_helpers.ts";
import { Redis } from "ioredis";
import { Hub } from "../lib/hub.ts";
import { createLogger } from "../lib/log.ts";
import { RedisBus } from "../lib/redis_bus.ts";
import { RedisBudgets } from "../lib/redis_budgets.ts";
import { type RedisServer, startRedis } from "./_redis.ts";

/** Beats for instances that do not run (by Redis's clock): the cluster takes them as alive. */
async function beatAs(raw: Redis, ...instances: string[]) {
  const [seconds, micros] = await raw.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  await raw.zadd("mesh:instances", ...instances.flatMap((id) => [now, id]));
}

/** Ann on `x` and Bob on `y`, both joined to "room". */
async function meet(x: Instance, y: Instance): Promise<[Person, Person]> {
  const ann = x.connect();
  const bob = y.connect();
  await joined(ann);
  await joined(bob);
  return [ann, bob];
}

/** A redis-server and `count` instances on it, all stopped after `fn`. */
async function withCluster(
  count: number,
  fn: (instances: Instance[], redis: RedisServer) => Promise<void>,
  options: Parameters<typeof startInstance>[1] = {},
) {
  const redis = await startRedis();
  const instances: (Instance & { close(): void })[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startInstance(redis.url, options));
    await fn(instances, redis);
  } finally {
    for (const instance of instances) instance.close();
    await redis.kill();
  }
}

Deno.test("Cluster introduces two people on different instances with the roles of one instance", async () => {
  await withCluster(2, async ([x, y]) => {
    const [ann, bob] = await meet(x, y);
    await eventually(() => ann.got("addPeer").length === 1, "Ann hears of Bob");
    assert.deepEqual(ann.got("addPeer")[0].data, {
      peer_id: bob.id,
      should_create_offer: false,
      polite: true,
      userdata: { name: bob.id },
    });
    assert.deepEqual(bob.got("addPeer")[0].data, {
      peer_id: ann.id,
      should_create_offer: true,
      polite: false,
      userdata: { name: ann.id },
    });
    assert.deepEqual(bob.got("joined")[0].data.peers, [ann.id]);
    // Both instances hold the same room.
    assert.deepEqual(x.hub.registry.membersOf("room"), [ann.id, bob.id]);
    assert.deepEqual(y.hub.registry.membersOf("room"), [ann.id, bob.id]);
  });
});

Deno.test("Cluster relays between instances both ways, candidates after their description, in order", async () => {
  await withCluster(2, async ([x, y]) => {
    const [ann, bob] = await meet(x, y);
    bob.send("relaySessionDescription", { peer_id: ann.id, session_description: OFFER });
    for (let i = 0; i < 200; i++) {
      bob.send("relayICECandidate", {
        peer_id: ann.id,
        ice_candidate: { ...CANDIDATE, candidate: `candidate:${i}` },
      });
    }
    await eventually(() => ann.got("iceCandidate").length === 200, "200 candidates reach Ann");
    const relayed = ann.conn.frames().filter((f) =>
      f.event === "sessionDescription" || f.event === "iceCandidate"
    );
    assert.equal(relayed[0].event, "sessionDescription");
    assert.equal(relayed[0].data.peer_id, bob.id);
    assert.deepEqual(
      relayed.slice(1).map((f) => f.data.ice_candidate.candidate),
      Array.from({ length: 200 }, (_, i) => `candidate:${i}`),
    );
    ann.send("relaySessionDescription", {
      peer_id: bob.id,
      session_description: { type: "answer", sdp: "v=0\r\n" },
    });
    await eventually(() => bob.got("sessionDescription").length === 1, "the answer reaches Bob");
    assert.equal(bob.got("sessionDescription")[0].data.peer_id, ann.id);
  });
});

Deno.test("Cluster refuses a relay to someone in no shared room, on any instance", async () => {
  await withCluster(2, async ([x, y]) => {
    const ann = x.connect();
    const bob = y.connect();
    await joined(ann, "one");
    await joined(bob, "two");
    ann.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
    await eventually(() => ann.got("error").length === 1, "Ann's relay refused");
    assert.equal(ann.got("error")[0].data.code, "unknown_peer");
    // Positive control: in one room the same relay goes through.
    await joined(bob, "one");
    ann.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
    await eventually(() => bob.got("iceCandidate").length === 1, "the relay reaches Bob");
  });
});

Deno.test("Cluster: a part and a Leave on one instance reach the other as removePeer", async () => {
  await withCluster(2, async ([x, y]) => {
    const [ann, bob] = await meet(x, y);
    const cid = y.connect();
    await joined(cid);
    bob.send("part", { channel: "room" });
    await eventually(() => ann.got("removePeer").length === 1, "Ann hears Bob part");
    assert.equal(ann.got("removePeer")[0].data.peer_id, bob.id);
    cid.session.close({ deliberate: true });
    await eventually(() => ann.got("removePeer").length === 2, "Ann hears Cid leave");
    assert.equal(ann.got("removePeer")[1].data.peer_id, cid.id);
    await eventually(() => x.hub.registry.membersOf("room").length === 1, "X forgets them");
    assert.deepEqual(y.hub.registry.membersOf("room"), [ann.id]);
  });
});

Deno.test("Cluster gives the last seat to exactly one of two instances admitting at once", async () => {
  await withCluster(3, async ([x, y, z]) => {
    const ann = x.connect();
    await joined(ann);
    const bob = y.connect();
    const cid = z.connect();
    // The same moment on two instances: the shared order decides.
    bob.send("join", { channel: "room", userdata: { name: "bob" } });
    cid.send("join", { channel: "room", userdata: { name: "cid" } });
    const answered = (p: typeof bob) => p.got("joined").length + p.got("error").length > 0;
    await eventually(() => answered(bob) && answered(cid), "both joins answered");
    const full = [bob, cid].filter((p) => p.got("error")[0]?.data.code === "channel_full");
    const inside = [bob, cid].filter((p) => p.got("joined").length === 1);
    assert.equal(full.length, 1);
    assert.equal(inside.length, 1);
    // Each instance applies the shared order on its own: X may still be a step behind.
    await eventually(
      () => [x, y, z].every((i) => i.hub.registry.membersOf("room").length === 2),
      "every instance applied both joins",
    );
    for (const instance of [x, y, z]) {
      assert.deepEqual(instance.hub.registry.membersOf("room"), [ann.id, inside[0].id]);
    }
    assert.equal(ann.got("addPeer").length, 1);
  }, { maxPeersPerChannel: 2 });
});

Deno.test("Cluster applies room authority across instances: lock, knock, admit, password, removal", async () => {
  await withCluster(2, async ([x, y]) => {
    const host = x.connect();
    await joined(host);
    host.send("lock", { channel: "room", locked: true });
    await eventually(() => host.got("roomState").at(-1)?.data.locked === true, "the lock");
    const guest = y.connect();
    guest.send("join", { channel: "room", userdata: { name: "guest" } });
    await eventually(() => guest.got("error").length === 1, "the locked door");
    assert.equal(guest.got("error")[0].data.code, "room_locked");
    guest.send("knock", { channel: "room", userdata: { name: "guest" }, browser: "browser-1" });
    await eventually(() => host.got("knocks").length === 1, "the host sees the knock");
    assert.deepEqual(host.got("knocks")[0].data.knocks, [{ peer_id: guest.id, name: "guest" }]);
    host.send("admit", { channel: "room", peer_id: guest.id });
    await eventually(() => guest.got("joined").length === 1, "the guest is let in");
    await eventually(() => host.got("addPeer").length === 1, "host and guest meet");
    // A non-host on the other instance may not act.
    guest.send("lock", { channel: "room", locked: false });
    await eventually(() => guest.got("error").length === 2, "the guest's lock refused");
    assert.equal(guest.got("error")[1].data.code, "not_allowed");
    // A password set on X is checked on Y.
    host.send("lock", { channel: "room", locked: false });
    host.send("setPassword", { channel: "room", password: "open sesame" });
    await eventually(() => host.got("roomState").at(-1)?.data.password === true, "the password");
    const late = y.connect();
    late.send("join", { channel: "room", userdata: { name: "late" }, password: "wrong" });
    await eventually(() => late.got("error").length === 1, "the wrong password refused");
    assert.equal(late.got("error")[0].data.code, "wrong_password");
    late.send("join", { channel: "room", userdata: { name: "late" }, password: "open sesame" });
    await eventually(() => late.got("joined").length === 1, "the right password lets in");
    // Removal from X closes the guest's socket on Y with 4003, and everyone hears it.
    host.send("remove", { channel: "room", peer_id: guest.id });
    await eventually(() => guest.conn.closedWith !== undefined, "the guest's socket closed");
    assert.equal(guest.conn.closedWith?.code, 4003);
    assert.equal(guest.got("removed").length, 1);
    await eventually(
      () => late.got("removePeer").some((f) => f.data.peer_id === guest.id),
      "the others hear the removal",
    );
    // The removed browser must knock again, on any instance.
    const again = x.connect();
    again.send("join", {
      channel: "room",
      userdata: { name: "guest" },
      password: "open sesame",
      browser: "browser-1",
    });
    await eventually(() => again.got("error").length === 1, "the removed browser refused");
    assert.equal(again.got("error")[0].data.code, "room_locked");
  });
});

Deno.test("Cluster hands the host role on across instances when the host leaves", async () => {
  await withCluster(2, async ([x, y]) => {
    const host = x.connect();
    await joined(host);
    const next = y.connect();
    await joined(next);
    host.session.close({ deliberate: true });
    await eventually(
      () => next.got("roomState").at(-1)?.data.hosts[0] === next.id,
      "the next person becomes host",
    );
  });
});

Deno.test("Cluster: an instance that starts later takes the rooms and meshes its people with everyone", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    ann.send("lock", { channel: "room", locked: true });
    await eventually(() => bob.got("roomState").at(-1)?.data.locked === true, "the lock");
    const z = await startInstance(redis.url);
    try {
      assert.deepEqual(z.hub.registry.membersOf("room"), [ann.id, bob.id]);
      const cid = z.connect();
      cid.send("join", { channel: "room", userdata: { name: "cid" } });
      await eventually(() => cid.got("error").length === 1, "the lock holds on the new instance");
      assert.equal(cid.got("error")[0].data.code, "room_locked");
      ann.send("lock", { channel: "room", locked: false });
      await eventually(
        () =>
          z.hub.registry.size("room") === 2 && cid.got("roomState").length === 0 &&
          bob.got("roomState").at(-1)?.data.locked === false,
        "the unlock",
      );
      await joined(cid);
      assert.deepEqual(cid.got("joined")[0].data.peers, [ann.id, bob.id]);
      cid.send("relayICECandidate", { peer_id: ann.id, ice_candidate: CANDIDATE });
      cid.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
      await eventually(
        () => ann.got("iceCandidate").length === 1 && bob.got("iceCandidate").length === 1,
        "the new instance relays to both",
      );
    } finally {
      z.close();
    }
  });
});

Deno.test("Cluster: a dropped person resuming on another instance is away then back, never removed", async () => {
  await withCluster(2, async ([x, y]) => {
    const [ann, bob] = await meet(x, y);
    bob.session.close({ deliberate: false });
    await eventually(() => ann.got("peerAway").length === 1, "Ann sees Bob away");
    const back = x.connect();
    back.send("resume", { token: bob.token, channels: [{ channel: "room", userdata: {} }] });
    await eventually(() => back.got("resumed").length === 1, "Bob resumes on X");
    assert.equal(back.got("resumed")[0].data.peer_id, bob.id);
    await eventually(() => ann.got("peerBack").length === 1, "Ann sees Bob back");
    assert.equal(ann.got("removePeer").length, 0);
    assert.equal(ann.got("addPeer").length, 1);
    // Now both are on X: relays are local, and Y agrees where Bob is.
    ann.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
    await eventually(() => back.got("iceCandidate").length === 1, "Ann's relay reaches Bob on X");
    back.send("relayICECandidate", { peer_id: ann.id, ice_candidate: CANDIDATE });
    await eventually(() => ann.got("iceCandidate").length === 1, "Bob's relay reaches Ann");
  });
});

Deno.test("Cluster: when an instance dies, its people are away; those who do not resume are removed", async () => {
  await withCluster(2, async ([x, y]) => {
    const [ann, bob] = await meet(x, y);
    const cid = y.connect();
    await joined(cid);
    y.die();
    await eventually(() => ann.got("peerAway").length === 2, "Ann sees both away");
    assert.deepEqual(
      ann.got("peerAway").map((f) => f.data.peer_id).sort(),
      [bob.id, cid.id].sort(),
    );
    // Bob comes back through the balancer to X; Cid never does.
    const back = x.connect();
    back.send("resume", { token: bob.token, channels: [{ channel: "room", userdata: {} }] });
    await eventually(() => ann.got("peerBack").length === 1, "Ann sees Bob back");
    assert.equal(ann.got("peerBack")[0].data.peer_id, bob.id);
    await eventually(() => ann.got("removePeer").length === 1, "Cid removed after the window", {
      timeoutMs: FAST.resumeWindowMs + 5000,
    });
    assert.equal(ann.got("removePeer")[0].data.peer_id, cid.id);
    assert.deepEqual(x.hub.registry.membersOf("room"), [ann.id, bob.id]);
    assert.equal(back.got("removePeer").length, 1);
  });
});

Deno.test("Cluster: with Redis down calls go on, joins get unavailable; after Redis restarts empty, rooms are intact", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    const cid = x.connect();
    await joined(cid);
    await redis.kill();
    await eventually(() => !x.hub.health.ok && !y.hub.health.ok, "both instances degraded");
    assert.match(x.hub.health.problem ?? "", /Redis unreachable/);
    // Relays between people on one instance still work.
    ann.send("relayICECandidate", { peer_id: cid.id, ice_candidate: CANDIDATE });
    await eventually(() => cid.got("iceCandidate").length === 1, "a relay within X");
    // What needs the cluster is refused, clearly and retryably.
    const dan = x.connect();
    dan.send("join", { channel: "room", userdata: { name: "dan" } });
    await eventually(() => dan.got("error").length === 1, "the join refused");
    assert.equal(dan.got("error")[0].data.code, "unavailable");
    ann.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
    await eventually(() => ann.got("error").length === 1, "the relay to Y refused");
    assert.equal(ann.got("error")[0].data.code, "unavailable");
    await redis.restart();
    await eventually(() => x.hub.health.ok && y.hub.health.ok, "both instances healthy again");
    for (const instance of [x, y]) {
      assert.deepEqual(instance.hub.registry.membersOf("room"), [ann.id, bob.id, cid.id]);
    }
    await joined(dan);
    await eventually(() => bob.got("addPeer").length === 3, "Bob on Y meets Dan from X");
    bob.send("relayICECandidate", { peer_id: dan.id, ice_candidate: CANDIDATE });
    await eventually(() => dan.got("iceCandidate").length === 1, "relays across resume");
    assert.equal(ann.got("removePeer").length, 0);
  });
});

Deno.test("Cluster: a stalled Redis makes instances degraded; once it answers, nobody is declared dead", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    redis.pause();
    await eventually(() => !x.hub.health.ok && !y.hub.health.ok, "both instances degraded", {
      timeoutMs: FAST.deadAfterMs * 4,
    });
    assert.match(x.hub.health.problem ?? "", /no answer/);
    const cid = x.connect();
    cid.send("join", { channel: "room", userdata: { name: "cid" } });
    await eventually(() => cid.got("error").length === 1, "the join refused");
    assert.equal(cid.got("error")[0].data.code, "unavailable");
    // Longer than an instance may stay silent, then Redis answers again.
    await new Promise((resolve) => setTimeout(resolve, FAST.deadAfterMs * 2));
    redis.unpause();
    await eventually(() => x.hub.health.ok && y.hub.health.ok, "both healthy again");
    await joined(cid);
    await eventually(() => bob.got("addPeer").length === 2, "Bob meets Cid across instances");
    // Several heartbeat rounds later (each would have judged), still nobody away.
    await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatMs * 10));
    assert.equal(ann.got("peerAway").length + bob.got("peerAway").length, 0);
  });
});

Deno.test("Cluster counts one address's joins across instances once (in Redis)", async () => {
  const redis = await startRedis();
  const opened: { close(): void }[] = [];
  try {
    /** Joins of 8 connections from one address on each of `x` and `y`. */
    const joinsFrom = async (x: Instance, y: Instance, address: string) => {
      const people = [...Array(8)].flatMap(() => [x.connect(address), y.connect(address)]);
      people.forEach((p, i) =>
        p.send("join", { channel: `r-${crypto.randomUUID()}-${i}`, userdata: {} })
      );
      await eventually(
        () => people.every((p) => p.got("joined").length + p.got("error").length > 0),
        "every join answered",
      );
      return people.filter((p) => p.got("joined").length > 0).length;
    };
    const limits = { joinBurst: 1, joinsPerMinute: 1 };
    // Positive control: counted in each instance, two instances give the address twice ten.
    const apart = [await startInstance(redis.url, limits), await startInstance(redis.url, limits)];
    opened.push(...apart);
    assert.equal(await joinsFrom(apart[0], apart[1], "198.51.100.7"), 16);
    // Counted in Redis: ten, whichever instance the connections reach.
    const shared = [];
    for (let i = 0; i < 2; i++) {
      const budgets = new RedisBudgets({ url: redis.url });
      await budgets.start();
      opened.push(budgets);
      shared.push(await startInstance(redis.url, { ...limits, budgets }));
    }
    opened.push(...shared);
    assert.equal(await joinsFrom(shared[0], shared[1], "203.0.113.9"), 10);
    assert.equal(await joinsFrom(shared[0], shared[1], "2001:db8:7:7::1"), 10, "another address");
  } finally {
    for (const o of opened) o.close();
    await redis.kill();
  }
});

Deno.test("Cluster keeps an op (a password hash) in Redis's log only for maxLogAgeMs", async () => {
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  const x = await startInstance(redis.url, {}, { maxLogAgeMs: 400 });
  try {
    const ann = x.connect();
    await joined(ann);
    ann.send("setPassword", { channel: "room", password: "pw" });
    await eventually(() => ann.got("roomState").length > 0, "the password set");
    const ops = async () =>
      (await raw.xrange("mesh:log", "-", "+")).map(([, fields]) => JSON.parse(fields[1]).op);
    assert.ok((await ops()).includes("setPassword"), "the hash is in the log at first");
    const deadline = Date.now() + 5000;
    while ((await ops()).includes("setPassword")) {
      assert.ok(Date.now() < deadline, "the setPassword op was never trimmed");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(x.hub.roomsSnapshot()[0].password !== null, true, "the room keeps it");
  } finally {
    x.close();
    raw.disconnect();
    await redis.kill();
  }
});

Deno.test("Cluster never trims an op a live instance has not applied yet", async () => {
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  const x = await startInstance(redis.url, {}, { maxLogAgeMs: 200 });
  // A live instance that reads slowly: it beats (by Redis's clock) but has applied nothing new.
  const beat = async (applied: string) => {
    await beatAs(raw, "slow");
    await raw.hset("mesh:applied", "slow", applied);
  };
  let applied = "0-1";
  let beating = true;
  const beater = (async () => {
    while (beating) {
      await beat(applied);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    const ann = x.connect();
    await joined(ann);
    ann.send("setPassword", { channel: "room", password: "pw" });
    await eventually(() => ann.got("roomState").length > 0, "the password set");
    const entries = async () => await raw.xrange("mesh:log", "-", "+");
    const setId = (await entries()).find(([, f]) => JSON.parse(f[1]).op === "setPassword")![0];
    // Well past the age limit, the slow reader still needs it.
    const held = Date.now() + 800;
    while (Date.now() < held) {
      assert.ok((await entries()).some(([id]) => id === setId), "trimmed under a slow reader");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Once it has applied past it, the op goes.
    applied = setId;
    const deadline = Date.now() + 5000;
    while ((await entries()).some(([id]) => id === setId)) {
      assert.ok(Date.now() < deadline, "never trimmed after the slow reader applied it");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    beating = false;
    await beater;
    x.close();
    raw.disconnect();
    await redis.kill();
  }
});

Deno.test("Cluster: a starting instance survives Redis stalling while it asks for the rooms (fault 3)", async () => {
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  raw.on("error", () => {});
  // Two instances that look alive but never answer a hand-over request.
  let ghosts = true;
  const haunt = (async () => {
    while (ghosts) {
      await beatAs(raw, "ghost1", "ghost2");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  let paused = false;
  const logger = createLogger({
    level: "warn",
    write: (line) => {
      // The first ghost did not answer: Redis stalls while the second is asked.
      if (!paused && line.includes("did not hand over")) {
        paused = true;
        redis.pause();
        setTimeout(() => redis.unpause(), 600);
      }
    },
  });
  const bus = new RedisBus({
    url: redis.url,
    heartbeatMs: 100,
    deadAfterMs: 1000,
    syncTimeoutMs: 200,
    logger,
  });
  const hub = new Hub({ bus: (handlers) => bus.attach(handlers) });
  try {
    await raw.ping();
    const started = bus.start();
    await eventually(() => paused, "the first hand-over request timed out");
    // Once Redis answers again, the ghosts stop beating and drop out: it starts empty.
    await new Promise((resolve) => setTimeout(resolve, 700));
    ghosts = false;
    await haunt;
    await started;
    // It runs (an unhandled rejection would have ended the test), and joins the cluster.
    await eventually(() => hub.health.ok, `a healthy instance (${hub.health.problem})`);
  } finally {
    ghosts = false;
    redis.unpause();
    bus.close();
    raw.disconnect();
    await redis.kill();
  }
});

Deno.test("Cluster: Redis stalls shorter than the dead time never declare a live instance dead (fault 6)", async () => {
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  raw.on("error", () => {});
  const x = await startInstance(redis.url);
  const beatGhost = () => beatAs(raw, "ghost");
  try {
    // A live instance "ghost" whose beats come a little before X's: after a
    // stall shorter than the dead time, X judges first and the ghost's last
    // score is past the dead time — by the stall, not by any silence of its own.
    for (let i = 0; i < 8; i++) {
      await beatGhost();
      await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatMs * 0.6));
      redis.pause();
      await new Promise((resolve) => setTimeout(resolve, FAST.deadAfterMs - 50));
      redis.unpause();
      await beatGhost();
      await eventually(() => x.hub.health.ok, "healthy again");
      await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatMs * 2));
    }
    const ops = (await raw.xrange("mesh:log", "-", "+")).map(([, f]) => JSON.parse(f[1]));
    assert.deepEqual(ops.filter((op) => op.op === "dead"), [], "nobody declared dead");
  } finally {
    x.close();
    raw.disconnect();
    await redis.kill();
  }
});

Deno.test("Cluster: a part in flight when Redis restarts empty is not undone by re-assertion (fault 5)", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    const raw = new Redis(redis.url);
    raw.on("error", () => {});
    try {
      // X's reader loses its connection (it reconnects after 100 ms)…
      const clients = String(await raw.client("LIST"));
      const reader = /id=(\d+) .*name=mesh-reader-/.exec(
        clients.split("\n").find((line) => line.includes(`mesh-reader-${x.bus.instance}`)) ?? "",
      )?.[1];
      assert.ok(reader !== undefined, "X's reader connection");
      await raw.client("KILL", "ID", reader);
      // …Ann parts (appended, never read back), and Redis restarts empty.
      ann.send("part", { channel: "room" });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      raw.disconnect();
    }
    await redis.restart();
    await eventually(() => ann.got("parted").length === 1, "Ann's part applied after the restart");
    await eventually(
      () => x.hub.health.ok && y.hub.health.ok && bob.got("removePeer").length === 1,
      "Bob hears Ann left",
    );
    // Several rounds later, still parted: no addPeer, and she may join again.
    await new Promise((resolve) => setTimeout(resolve, FAST.heartbeatMs * 10));
    assert.equal(ann.got("addPeer").length, 1, "only the first introduction");
    assert.deepEqual(x.hub.registry.membersOf("room"), [bob.id]);
    assert.deepEqual(y.hub.registry.membersOf("room"), [bob.id]);
    await joined(ann);
    assert.deepEqual(ann.got("error"), [], "no already_joined");
  });
});

/** Drops `x`'s stream reader connection (it reconnects about 100 ms later). */
async function cutReader(raw: Redis, x: Instance) {
  const line = String(await raw.client("LIST")).split("\n")
    .find((l) => l.includes(`name=mesh-reader-${x.bus.instance}`));
  const id = /id=(\d+) /.exec(line ?? "")?.[1];
  assert.ok(id !== undefined, "the reader connection");
  await raw.client("KILL", "ID", id);
}

Deno.test("Cluster: an instance declared dead while the log was trimmed past it takes the rooms again", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    const raw = new Redis(redis.url);
    raw.on("error", () => {});
    try {
      // X stops reading for a moment; Cid joins on Y, and the log loses that
      // op, as it does for an instance the others declared dead (no longer
      // live, the trim does not wait for it).
      await cutReader(raw, x);
      const cid = y.connect();
      cid.send("join", { channel: "room", userdata: { name: "cid" } });
      await eventually(() => cid.got("joined").length === 1, "Cid joined on Y");
      await raw.xtrim("mesh:log", "MAXLEN", 0);
      await raw.zrem("mesh:instances", x.bus.instance);
      await eventually(
        () => x.hub.registry.membersOf("room").length === 3,
        "X took the rooms again",
      );
      assert.deepEqual(x.hub.registry.membersOf("room"), y.hub.registry.membersOf("room"));
      await eventually(() => ann.got("addPeer").length === 2, "Ann meets Cid");
      assert.deepEqual(ann.got("addPeer").map((f) => f.data.peer_id), [bob.id, cid.id]);
      assert.equal(ann.got("addPeer")[1].data.should_create_offer, false, "Cid offers");
      // And it goes on with the others: a newcomer on Y reaches Ann on X.
      const dee = y.connect();
      await joined(dee);
      await eventually(() => ann.got("addPeer").length === 3, "Ann meets Dee");
    } finally {
      raw.disconnect();
    }
  });
});

Deno.test("Cluster: an instance behind when Redis restarts empty takes the rooms again (fault 4)", async () => {
  await withCluster(2, async ([x, y], redis) => {
    const [ann, bob] = await meet(x, y);
    const cid = y.connect();
    await joined(cid);
    await eventually(() => ann.got("addPeer").length === 2, "Ann meets Cid");
    const raw = new Redis(redis.url);
    raw.on("error", () => {});
    try {
      // X stops reading; Cid leaves on Y; Redis restarts empty before X reads it.
      await cutReader(raw, x);
      cid.session.close({ deliberate: true });
      await eventually(() => y.hub.registry.membersOf("room").length === 2, "Y applied it");
    } finally {
      raw.disconnect();
    }
    await redis.restart();
    await eventually(
      () => x.hub.registry.membersOf("room").length === 2,
      "X no longer holds Cid",
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(x.hub.registry.membersOf("room"), [ann.id, bob.id]);
    await eventually(() => ann.got("removePeer").length === 1, "Ann hears Cid left");
    assert.equal(ann.got("removePeer")[0].data.peer_id, cid.id);
    // And both instances go on together: a newcomer on X meets both.
    const dee = x.connect();
    await joined(dee);
    await eventually(() => bob.got("addPeer").length === 3, "Bob meets Dee");
  });
});

Deno.test("Cluster: after Redis restarts empty, instances that were up to date never take the rooms again", async () => {
  // Each records where it stood in the lost log before it reads the new one;
  // one that read the others' re-assertions first would look furthest
  // along, and the up-to-date ones would take its rooms.
  const redis = await startRedis();
  const instances: (Instance & { close(): void })[] = [];
  const resyncs: string[] = [];
  const logger = {
    log(_level: string, message: string, fields?: Record<string, unknown>) {
      if (Deno.env.get("DEBUG_BUS")) {
        console.error(Date.now() % 100000, message, JSON.stringify(fields));
      }
      if (message.includes("taking the rooms again")) resyncs.push(String(fields?.why));
    },
  } as unknown as ReturnType<typeof createLogger>;
  try {
    for (let i = 0; i < 3; i++) instances.push(await startInstance(redis.url, {}, { logger }));
    const [x, y, z] = instances;
    const people = [x.connect(), y.connect(), z.connect(), x.connect(), y.connect()];
    for (const person of people) await joined(person);
    for (let round = 0; round < 3; round++) {
      await redis.kill();
      await redis.restart();
      await eventually(
        () => instances.every((instance) => instance.hub.health.ok),
        "every instance serves again",
      );
      // Every re-assertion applied everywhere, and the comparisons made.
      const newcomer = instances[round].connect();
      await joined(newcomer);
      await eventually(
        () =>
          instances.every((instance) =>
            instance.hub.registry.membersOf("room").length === 6 + round
          ),
        "every instance has everyone",
      );
    }
    assert.deepEqual(resyncs, []);
  } finally {
    for (const instance of instances) instance.close();
    await redis.kill();
  }
});

Deno.test("Cluster: an instance starting as Redis comes back empty waits for the running ones, and takes their rooms", async () => {
  const redis = await startRedis();
  const instances: (Instance & { close(): void })[] = [];
  try {
    const x = await startInstance(redis.url);
    instances.push(x);
    const ann = x.connect();
    await joined(ann);
    // Redis restarts empty, and a new instance starts before X has reconnected and beaten.
    await redis.kill();
    await redis.restart();
    const y = await startInstance(redis.url);
    instances.push(y);
    assert.deepEqual(y.hub.registry.membersOf("room"), [ann.id], "Y took X's rooms: not empty");
    const bob = y.connect();
    await joined(bob);
    await eventually(() => ann.got("addPeer").some((f) => f.data.peer_id === bob.id), "they meet");
  } finally {
    for (const instance of instances) instance.close();
    await redis.kill();
  }
});
