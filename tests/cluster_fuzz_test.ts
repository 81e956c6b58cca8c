/**
 * Seeded fault injection on the in-memory cluster (`_memory_bus.ts`):
 * three instances, a dozen people in three rooms, and a random sequence of
 * joins, leaves, parts, drops, resumes on any instance (in time or never),
 * relays, instance deaths and restarts — with the ops of different
 * instances ordered in random interleavings, as Redis orders concurrent
 * appends. Then everything heals, and the rooms must agree: every instance
 * holds the same members, every person still there sees exactly the
 * others (by the frames it got), and a newcomer gets exactly them.
 *
 * `SEED=n deno test --allow-all tests/cluster_fuzz_test.ts` replays one
 * seed; a failure prints its steps. `FUZZ_SEEDS=200` runs more seeds.
 */

import assert from "node:assert/strict";
import { isDeliberateClose } from "../lib/http.ts";
import { CLOSE_CODES } from "../lib/wire.ts";
import { MemoryCluster, type MemoryPerson } from "./_memory_bus.ts";
import { random } from "./_random.ts";

const ROOMS = ["r0", "r1", "r2"];
const WINDOW_MS = 25_000;

/** One person as the test follows them: their socket now, and what they were told. */
interface Person {
  name: string;
  socket: MemoryPerson;
  /** The room they are in (or joining), as they believe. */
  room: string | null;
  /** Who they were introduced to and not told left. */
  sees: Set<string>;
  /** Frames of `socket` already read into `sees`. */
  read: number;
  /** Its socket's resume is pending (no answer yet). */
  resuming: boolean;
  /** Their socket dropped: they may resume (until the window passes). */
  droppedAt: number | null;
  /** They left for good (or gave up). */
  gone: boolean;
  /** Every frame they got, in short, for a failure's report. */
  history: string[];
  /**
   * The token they resume with, as the client keeps it: the newest
   * `session`'s, or a socket's `welcome` once that socket is theirs (not
   * while its resume is pending: a lost resume leaves the old one).
   */
  token: string;
  /** After a resume the server had to rebuild: who is not reintroduced is dropped. */
  unconfirmed: Set<string> | null;
  /** The server's close of `socket` was handled. */
  closeSeen?: boolean;
}

/** Reads the frames a person got since last time into what they see. */
function follow(p: Person) {
  const frames = p.socket.conn.frames();
  for (; p.read < frames.length; p.read++) {
    const { event, data } = frames[p.read];
    p.history.push(
      `${event}${data?.peer_id ? ":" + data.peer_id : ""}${data?.code ? ":" + data.code : ""}${
        event === "resumed" ? `[${data.restored ? "restored" : data.peers}]` : ""
      }`,
    );
    if (event === "welcome" && p.read === 0 && !p.resuming) p.token = data.resume_token;
    if (event === "session") p.token = data.resume_token;
    if (event === "resumed") p.resuming = false;
    if (event === "addPeer") {
      p.sees.add(data.peer_id);
      p.unconfirmed?.delete(data.peer_id);
    }
    if (event === "removePeer") p.sees.delete(data.peer_id);
    // Who it no longer shares any room with comes as removePeer.
    if (event === "parted" && data.channel === p.room) p.room = null;
    if (event === "resumed" && data.restored) p.unconfirmed = new Set(p.sees);
    if (event === "resumed" && !data.restored && Array.isArray(data.peers)) {
      for (const id of [...p.sees]) if (!data.peers.includes(id)) p.sees.delete(id);
    }
    if (event === "error" && (data.event === "join" || data.event === "knock")) p.room = null;
    if (event === "denied" && data.channel === p.room) p.room = null;
    if (event === "removed") {
      // Removed by a host: the socket closes with 4003 and the identity is retired.
      p.gone = true;
      p.sees.clear();
    }
    if (event === "error" && data.event === "resume" && data.code === "bad_token") {
      // Refused: this socket is somebody new now (its welcome's), in no room.
      p.sees.clear();
      p.room = null;
      p.resuming = false;
      p.token = p.socket.token;
    }
  }
}

/**
 * The server closed `p`'s socket: the transport reports it as a real
 * socket's close event would, and the client does what ours does with the
 * code — resumes after 1013, gives up after 4001 or 4003.
 */
function closedByServer(p: Person, now: number) {
  const closed = p.socket.conn.closedWith;
  if (closed === undefined || p.closeSeen || p.gone) return;
  p.closeSeen = true;
  p.history.push(`closed:${closed.code}`);
  p.socket.close(isDeliberateClose(closed));
  if (closed.code === CLOSE_CODES.tryAgainLater && p.droppedAt === null) p.droppedAt = now;
  else if (closed.code === CLOSE_CODES.replaced || closed.code === CLOSE_CODES.removed) {
    p.gone = true;
  }
}

/** Runs one seed; returns its steps, and throws (with them) when the rooms disagree. */
function runSeed(seed: number, steps = 120): string[] {
  const rand = random(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)];
  const c = new MemoryCluster();
  const log: string[] = [];
  const names = ["x", "y", "z"];
  let restarts = 0;
  for (const name of names) c.start(name);
  const running = () => [...c.hubs.keys()];
  const people: Person[] = [];
  const connected = () =>
    people.filter((p) => !p.gone && p.droppedAt === null && c.hubs.has(p.socket.instance));
  const newPerson = () => {
    const instance = pick(running());
    const p: Person = {
      name: `p${people.length}`,
      socket: c.connect(instance),
      room: null,
      sees: new Set(),
      read: 0,
      droppedAt: null,
      gone: false,
      history: [],
      token: "",
      unconfirmed: null,
      resuming: false,
    };
    p.token = p.socket.token;
    p.read = p.socket.conn.frames().length;
    people.push(p);
    return p;
  };
  for (let i = 0; i < 12; i++) newPerson();
  // Which applied op sent each person which frames (printed when a seed fails alone).
  const seen = new Map<MemoryPerson, number>();
  c.afterApply = (instance, index) => {
    for (const p of people) {
      const count = p.socket.conn.frames().length;
      const before = seen.get(p.socket) ?? 0;
      if (count > before) {
        const events = p.socket.conn.frames().slice(before).map((f) =>
          `${f.event}${f.data?.peer_id ? ":" + f.data.peer_id : ""}`
        );
        p.history.push(`<${instance}#${index} ${events.join(",")}>`);
      }
      seen.set(p.socket, count);
    }
  };

  try {
    for (let step = 0; step < steps; step++) {
      const roll = rand();
      const live = connected();
      if (roll < 0.22 && live.some((p) => p.room === null)) {
        const p = pick(live.filter((p) => p.room === null));
        p.room = pick(ROOMS);
        log.push(`${p.name}@${p.socket.instance} join ${p.room}`);
        p.socket.send("join", { channel: p.room, userdata: { name: p.name } });
      } else if (roll < 0.3 && live.some((p) => p.room !== null)) {
        const p = pick(live.filter((p) => p.room !== null));
        log.push(`${p.name}@${p.socket.instance} part ${p.room}`);
        p.socket.send("part", { channel: p.room });
      } else if (roll < 0.36 && live.length > 0) {
        const p = pick(live);
        log.push(`${p.name}@${p.socket.instance} leaves`);
        p.socket.close(true);
        p.gone = true;
      } else if (roll < 0.48 && live.length > 0) {
        const p = pick(live);
        log.push(`${p.name}@${p.socket.instance} drops`);
        p.socket.close(false);
        p.droppedAt = c.clock.ms;
      } else if (roll < 0.62) {
        const away = people.filter((p) =>
          !p.gone && (p.droppedAt !== null || !c.hubs.has(p.socket.instance))
        );
        if (away.length > 0) {
          const p = pick(away);
          const instance = pick(running());
          follow(p);
          log.push(`${p.name} resumes on ${instance}`);
          p.history.push(`| resume on ${instance}`);
          p.socket = c.resume(instance, p.socket, p.room === null ? [] : [p.room], p.token);
          p.closeSeen = false;
          p.read = 0;
          p.resuming = true;
          p.droppedAt = null;
        }
      } else if (roll < 0.7 && live.length > 1) {
        const [a, b] = [pick(live), pick(live)];
        if (a !== b) {
          a.socket.send("relayICECandidate", {
            peer_id: b.socket.id,
            ice_candidate: { candidate: `candidate:${step}` },
          });
        }
      } else if (roll < 0.74 && running().length > 1) {
        const victim = pick(running());
        log.push(`kill ${victim}`);
        c.kill(victim);
        c.appendOp({ op: "dead", instance: victim });
      } else if (roll < 0.78 && running().length < 3) {
        const name = `n${restarts++}`;
        log.push(`start ${name}`);
        c.start(name);
      } else if (roll < 0.86 && live.some((p) => p.room !== null)) {
        // Room authority: a lock, a knock, a host's answer or a removal
        // (the server refuses whoever is not a host).
        const p = pick(live.filter((p) => p.room !== null));
        const target = pick(people).socket.id;
        const action = pick(["lock", "unlock", "knock", "admit", "deny", "remove", "makeHost"]);
        log.push(`${p.name}@${p.socket.instance} ${action}`);
        if (action === "lock" || action === "unlock") {
          p.socket.send("lock", { channel: p.room, locked: action === "lock" });
        } else if (action === "knock") {
          p.socket.send("knock", { channel: p.room, userdata: { name: p.name } });
        } else {
          p.socket.send(action, { channel: p.room, peer_id: target });
        }
      } else if (roll < 0.92) {
        // Some instance's oldest proposal reaches the shared order.
        const waiting = running().filter((n) => (c.bus(n)?.outbox.length ?? 0) > 0);
        if (waiting.length > 0) c.append(pick(waiting));
        c.run();
      } else if (roll < 0.95 && running().length > 1) {
        // An instance finds it missed ops (a gap, an op it cannot read) and
        // takes the rooms from another while it runs.
        const [target, source] = [pick(running()), pick(running())];
        if (target !== source) {
          log.push(`${target} resyncs from ${source}`);
          c.resync(target, source);
        }
      } else {
        const ms = pick([1000, 5000, 20_000, 30_000]);
        c.clock.advance(ms);
        log.push(`+${ms / 1000}s`);
        c.tick();
      }
      for (const p of people) {
        // An identity id changes on a refused resume: follow the socket's frames.
        follow(p);
        closedByServer(p, c.clock.ms);
        if (p.droppedAt !== null && c.clock.ms - p.droppedAt > WINDOW_MS) p.gone = true;
      }
    }
    // Heal: everyone away either comes back now or is gone; windows pass.
    for (const p of people) {
      if (p.gone || (p.droppedAt === null && c.hubs.has(p.socket.instance))) continue;
      if (p.droppedAt !== null && c.clock.ms - p.droppedAt > WINDOW_MS) {
        p.gone = true;
        continue;
      }
      const instance = pick(running());
      follow(p);
      log.push(`${p.name} resumes on ${instance} (healing)`);
      p.history.push(`| resume on ${instance} (healing)`);
      p.socket = c.resume(instance, p.socket, p.room === null ? [] : [p.room], p.token);
      p.closeSeen = false;
      p.read = 0;
      p.resuming = true;
      p.droppedAt = null;
    }
    c.settle();
    for (let i = 0; i < 4; i++) {
      c.clock.advance(WINDOW_MS);
      c.tick();
      c.settle();
    }
    for (const p of people) {
      follow(p);
      // The client waited a window for reintroductions: the rest left meanwhile.
      for (const id of p.unconfirmed ?? []) p.sees.delete(id);
    }
    check(c, people);
  } catch (error) {
    const who = people.map((p) => `${p.name}=${currentId(p)}`).join(" ");
    const history = Deno.env.get("SEED") === undefined
      ? ""
      : people.map((p) => `\n  ${p.name}: ${p.history.join(" ")}`).join("");
    throw new Error(
      `seed ${seed}: ${
        error instanceof Error ? error.message : error
      }\n${who}${history}\nsteps:\n  ${log.join("\n  ")}`,
    );
  }
  return log;
}

/** The rooms agree everywhere, with what each person sees, and with a newcomer's view. */
function check(c: MemoryCluster, people: Person[]) {
  const [first, ...others] = [...c.hubs.values()];
  // Every instance knows the same people, at the same home, alike away.
  const names = [...c.hubs.keys()];
  const peers = (name: string) =>
    JSON.stringify(
      c.bus(name)!.handlers!.exportState().peers.map((p) => ({ ...p }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    );
  for (const name of names.slice(1)) {
    assert.equal(peers(name), peers(names[0]), `instances ${names[0]} and ${name} agree on peers`);
  }
  for (const room of ROOMS) {
    const members = first.registry.membersOf(room);
    for (const hub of others) {
      const views = [...c.hubs.keys()].map((name) => {
        const state = c.bus(name)!.handlers!.exportState();
        const peers = state.peers.map((p) =>
          `${p.id}@${p.home}${p.away ? "~away" : ""}${p.orphan ? "~orphan" : ""}`
        );
        return `${name}: ${c.hubs.get(name)!.registry.membersOf(room)} | ${peers.join(" ")}`;
      });
      const odd = members.length > hub.registry.membersOf(room).length
        ? members.filter((m) => !hub.registry.membersOf(room).includes(m))
        : hub.registry.membersOf(room).filter((m) => !members.includes(m));
      views.push(
        ...c.log.map((op, i) => `#${i} ${JSON.stringify(op)}`).filter((line) =>
          Deno.env.get("ALL_OPS") !== undefined || odd.some((id) => line.includes(`"${id}"`))
        ),
      );
      assert.deepEqual(
        hub.registry.membersOf(room),
        members,
        `instances agree on ${room}\n${views.join("\n")}`,
      );
    }
    // Every member is somebody connected now, on the instance the cluster says.
    const live = people.filter((p) =>
      !p.gone && p.droppedAt === null && c.hubs.has(p.socket.instance) &&
      p.socket.conn.closedWith === undefined
    );
    // Room authority too: hosts, lock, pending knocks, removed browsers.
    const authority = (hub: typeof first) =>
      JSON.stringify(
        hub.roomsSnapshot().find((r) => r.channel === room) ?? null,
        (key, value) => key === "members" || key === "browsers" ? undefined : value,
      );
    for (const hub of others) {
      assert.equal(authority(hub), authority(first), `instances agree on ${room}'s authority`);
    }
    for (const id of members) {
      assert.ok(
        live.some((p) => p.socket.id === id || currentId(p) === id),
        `no ghost in ${room}: ${id}`,
      );
    }
    for (const p of live) {
      const id = currentId(p);
      if (!members.includes(id)) continue;
      // Everyone it shares any room with (a person may be in two).
      const expected = [
        ...new Set(
          ROOMS.flatMap((r) => first.registry.membersOf(r)).filter((m) =>
            m !== id && first.registry.shareChannel(id, m)
          ),
        ),
      ].sort();
      const ops = c.log.map((op, i) => `#${i} ${JSON.stringify(op)}`).filter((line) =>
        [id, ...expected].some((x) => line.includes(`"${x}"`))
      );
      assert.deepEqual(
        [...p.sees].sort(),
        expected,
        `${p.name} sees its rooms as they are\n${ops.join("\n")}`,
      );
    }
    // A newcomer gets exactly the members.
    const instance = pick0([...c.hubs.keys()]);
    const fresh = c.connect(instance);
    fresh.send("join", { channel: room, userdata: {} });
    c.settle();
    const joined = fresh.got("joined")[0]?.data.peers;
    if (joined !== undefined) assert.deepEqual(joined, members, `a newcomer to ${room}`);
    fresh.close(true);
    c.settle();
  }
}

function pick0<T>(list: T[]): T {
  return list[0];
}

/** The identity a person's socket speaks for now (a resume keeps the old one). */
function currentId(p: Person): string {
  const resumed = p.socket.got("resumed").at(-1)?.data.peer_id;
  const refused = p.socket.got("error").some((f) => f.data.event === "resume");
  return resumed !== undefined && !refused ? resumed : p.socket.id;
}

const one = Deno.env.get("SEED");
const seeds = one !== undefined
  ? [Number(one)]
  : Array.from({ length: Number(Deno.env.get("FUZZ_SEEDS") ?? 50) }, (_, i) => i + 1);

Deno.test(`Cluster fuzz: ${seeds.length} seeded runs of faults and races converge`, () => {
  const failures: string[] = [];
  for (const seed of seeds) {
    try {
      runSeed(seed, Number(Deno.env.get("FUZZ_STEPS") ?? 120));
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  assert.deepEqual(failures.map((f) => f.split("\n")[0]), [], failures[0] ?? "");
});
