/**
 * The cluster's {@linkcode Bus} on Redis: the shared order of room changes
 * is one Redis stream that every instance reads; relays and state
 * hand-overs are Redis pub/sub messages on a channel per instance; each
 * instance's heartbeat is a score in a sorted set, and a Lua script that
 * runs with every heartbeat declares an instance dead — once, atomically,
 * by appending a `dead` op — when its score is too old.
 *
 * Redis holds no room state: the instances hold it, so Redis restarting
 * empty loses nothing but ops in flight, which each instance covers by
 * asserting its own peers again. But its recent ops carry password hashes
 * (a `setPassword`) and browser ids, so the stream is trimmed by age as
 * well as by length. See docs/scaling.md.
 *
 * @module
 */

import { Redis } from "ioredis";
import {
  type Bus,
  type BusHandlers,
  type ClusterState,
  type Op,
  parseClusterState,
  parseOp,
} from "./cluster.ts";
import { parseRoomSnapshots, type RoomSnapshot } from "./authority.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import { parseRetired, type RetiredEntries } from "./retired.ts";

/** Options of a {@linkcode RedisBus}; all but `url` have defaults. */
export interface RedisBusOptions {
  /** `REDIS_URL`, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** Prefix of every key and channel, so one Redis can serve several clusters. Default `mesh:`. */
  prefix?: string;
  /** How often this instance says it is alive, ms. Default 1,000. */
  heartbeatMs?: number;
  /** Silence after which an instance is declared dead, ms. Default 5,000. */
  deadAfterMs?: number;
  /** Ops the stream keeps (about): enough for a slow reader to catch up. Default 100,000. */
  maxLogLength?: number;
  /**
   * How long the stream keeps an op, ms (about): ops carry password hashes
   * and browser ids, kept no longer than a reader may need them. Default
   * 600,000 (ten minutes; an instance silent for 5 s is declared dead).
   */
  maxLogAgeMs?: number;
  /** How long a starting instance waits for a running one's state, ms. Default 3,000. */
  syncTimeoutMs?: number;
  /** Default: writes nothing. */
  logger?: Logger;
}

/**
 * How long the rooms' saved copy outlives the last instance that wrote it,
 * ms: a whole cluster restarted within it keeps its hosts, locks and
 * passwords (its people resume within their tokens' life anyway).
 */
const SAVED_ROOMS_TTL_MS = 600_000;

/** After Redis restarted empty, how long an instance looks for others that had read further, ms. */
const BEHIND_CHECK_MS = 10_000;

/** Relayed frames wait at most this long for the ops they follow, ms. */
const MAX_GATE_MS = 2000;
/** Relayed frames waiting for ops at once; beyond it the oldest go through. */
const MAX_GATED = 10_000;

/**
 * Marks this instance alive (Redis's clock, so instances' clocks may
 * differ), starts the clock of homes the caller still sees in its rooms
 * but Redis does not know (they died while Redis was down), and declares
 * dead every instance silent for too long: removed from the set and a
 * `dead` op appended, in one atomic step, so only one `dead` is written.
 * After an outage everyone's score is old: nobody is judged until each
 * had a turn to beat again, and a stall of Redis itself (no beat got
 * through for two intervals) moves every score on by its length, so a
 * stall shorter than the dead time never makes anyone dead.
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
-- No beat at all got through for a while: Redis itself was stalled or
-- away. That time is nobody's silence: every score moves on by it, so an
-- instance whose beat is queued behind ours is not judged by the stall.
local last = tonumber(redis.call('GET', KEYS[4]) or '')
redis.call('SET', KEYS[4], now)
if last and now - last > 2 * tonumber(ARGV[6]) then
  -- Only those alive when the stall began: an instance already silent then
  -- (every instance stopped, say) is not brought back to life by it.
  local alive = redis.call('ZRANGEBYSCORE', KEYS[1], last - tonumber(ARGV[2]), '+inf')
  for _, id in ipairs(alive) do
    redis.call('ZINCRBY', KEYS[1], now - last, id)
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
for i = 7, #ARGV do redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) end
-- Ops older than the log's age limit carry password hashes and browser ids
-- nobody needs: trimmed by age too (exactly: an approximate trim keeps a
-- quiet stream's few entries for ever) — but never past the op the
-- slowest live instance has applied: it still has to read what follows.
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
local cutMs, cutSeq = now - tonumber(ARGV[4]), 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')) do
  local ms, seq = string.match(redis.call('HGET', KEYS[3], id) or '', '^(%d+)-(%d+)$')
  -- What it still needs starts right after the op it applied.
  ms, seq = tonumber(ms), tonumber(seq)
  if ms == nil then
    cutMs, cutSeq = 0, 0
  elseif ms < cutMs or (ms == cutMs and seq + 1 < cutSeq) then
    cutMs, cutSeq = ms, seq + 1
  end
end
redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d-%d', cutMs, cutSeq))
-- Silent ourselves for as long (Redis was away or stalled): so were the
-- others, through no fault of theirs. Judge nobody until they had a turn.
-- Not in the set: the others declared this instance dead (it was stopped
-- or cut off), and the log may have been trimmed past what it read.
if not previous then return {'forgotten'} end
if now - tonumber(previous) > tonumber(ARGV[2]) then return {} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'op',
    cjson.encode({op = 'dead', instance = id}))
end
return dead
`;

/** The instances alive now, by Redis's clock. */
const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`;

/** Compares two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split("-");
  const [bMs, bSeq] = b.split("-");
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}

/** A relayed frame waiting until this instance has applied what its sender had. */
interface Gated {
  after: string;
  peerId: string;
  text: string;
  at: number;
}

/** Instances sharing rooms through one Redis. */
export class RedisBus implements Bus {
  /** This instance's id, random per process. */
  readonly instance: string = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  readonly #url: string;
  readonly #prefix: string;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #maxLog: string;
  readonly #maxLogAge: string;
  readonly #syncTimeoutMs: number;
  readonly #logger: Logger;
  /** Commands, appends and publishes (queued while Redis is away, sent when it is back). */
  readonly #cmd: Redis;
  /** The blocking stream read. */
  readonly #reader: Redis;
  /** This instance's pub/sub channel (resubscribed by ioredis after a reconnect). */
  readonly #sub: Redis;
  #handlers: BusHandlers | undefined;
  /** The last op applied here. */
  #applied = "0-0";
  #synced = false;
  #connected = false;
  #lastError = "";
  /** When a heartbeat last went through (a stalled Redis answers nothing, and closes nothing). */
  #lastBeat = 0;
  #beating = false;
  #epoch: string | undefined;
  #running = true;
  #timer: ReturnType<typeof setInterval> | undefined;
  #gated: Gated[] = [];
  /** Ops this instance appended that have not come back yet, by stream id. */
  #inflight = new Map<string, Op>();
  /** After Redis restarted empty: our peers are asserted once this op (the last lost one) is applied. */
  #reassertAfter: string | undefined;
  /** Why this instance must take the rooms again before it applies more ops. */
  #resyncWanted: string | undefined;
  /** After Redis restarted empty: the op this instance had applied last before, while it compares. */
  #before: { applied: string; until: number } | undefined;
  #snapshot: PromiseWithResolvers<{ applied: string; state: ClusterState }> | undefined;

  /** A bus on `options.url`; nothing happens before {@linkcode RedisBus.start}. */
  constructor(options: RedisBusOptions) {
    this.#url = options.url;
    this.#prefix = options.prefix ?? "mesh:";
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#deadAfterMs = options.deadAfterMs ?? 5000;
    this.#maxLog = String(options.maxLogLength ?? 100_000);
    this.#maxLogAge = String(options.maxLogAgeMs ?? 600_000);
    this.#syncTimeoutMs = options.syncTimeoutMs ?? 3000;
    this.#logger = options.logger ?? SILENT_LOGGER;
    const connect = (name: string) => {
      const redis = new Redis(this.#url, {
        lazyConnect: true,
        maxRetriesPerRequest: null,
        retryStrategy: (times) => Math.min(times * 100, 1000),
        connectionName: `mesh-${name}-${this.instance}`,
      });
      redis.on("error", (error: Error) => {
        this.#lastError = error.message;
      });
      return redis;
    };
    this.#cmd = connect("cmd");
    this.#reader = connect("reader");
    this.#sub = connect("sub");
  }

  /**
   * The rooms and retirements the cluster saved last (`mesh:rooms`). None
   * (empty) if nothing was saved, it expired, or it cannot be read.
   */
  async #savedRooms(now: number): Promise<{ rooms: RoomSnapshot[]; retired: RetiredEntries }> {
    try {
      const text = await this.#cmd.get(this.#key("rooms"));
      const saved = text === null ? undefined : JSON.parse(text);
      if (saved?.version !== 1) return { rooms: [], retired: [] };
      return { rooms: parseRoomSnapshots(saved.rooms), retired: parseRetired(saved.retired, now) };
    } catch (error) {
      this.#logger.log("warn", "cannot read the saved rooms", { error: String(error) });
      return { rooms: [], retired: [] };
    }
  }

  /**
   * Saves every room's authority and the retirements to `mesh:rooms`, kept
   * ten minutes: every instance writes the same copy when it changes, so
   * the cluster survives every instance stopping at once.
   */
  async saveRooms(rooms: RoomSnapshot[], retired: RetiredEntries): Promise<void> {
    const text = JSON.stringify({ version: 1, rooms, retired });
    await this.#cmd.set(this.#key("rooms"), text, "PX", SAVED_ROOMS_TTL_MS);
  }

  /** Hands the bus the hub's handlers (the hub calls it once, from its constructor). */
  attach(handlers: BusHandlers): Bus {
    this.#handlers = handlers;
    return this;
  }

  get available(): boolean {
    return this.problem === undefined;
  }

  get problem(): string | undefined {
    if (!this.#synced) return "joining the cluster";
    if (!this.#connected) {
      return `Redis unreachable${this.#lastError === "" ? "" : ` (${this.#lastError})`}`;
    }
    if (this.#stalled) {
      return `Redis unreachable (no answer for ${
        Math.round((Date.now() - this.#lastBeat) / 1000)
      } s)`;
    }
    return undefined;
  }

  /** Connected, but the heartbeats get no answer: as good as unreachable. */
  get #stalled(): boolean {
    return Date.now() - this.#lastBeat > this.#deadAfterMs;
  }

  /**
   * Connects, takes the rooms from a running instance (or starts empty if
   * none runs), and starts following the shared order. Resolves once this
   * instance can serve; while Redis is unreachable it keeps trying.
   */
  async start(): Promise<void> {
    if (this.#handlers === undefined) throw new TypeError("Cannot start a bus: no hub attached");
    this.#cmd.on("ready", () => this.#reachable());
    this.#cmd.on("close", () => this.#unreachable());
    this.#sub.on("message", (_channel: string, message: string) => {
      try {
        this.#message(message);
      } catch (error) {
        this.#logger.log("error", "cluster message failed", { error: String(error) });
      }
    });
    const connecting = Promise.all([
      this.#cmd.connect(),
      this.#reader.connect(),
      this.#sub.connect(),
    ]);
    const waiting = setInterval(() => {
      this.#logger.log("warn", "waiting for Redis", {
        url: redact(this.#url),
        error: this.#lastError,
      });
    }, 5000);
    try {
      await connecting.catch(() => this.#cmd.ping());
      await this.#sub.subscribe(this.#channel(this.instance));
      this.#epoch = await this.#claimEpoch();
      await this.#beat();
      await this.#sync();
      // Taking the rooms may have waited for silent instances to drop out: beat
      // again, or this instance would call itself stalled until its first tick.
      await this.#beat();
    } finally {
      clearInterval(waiting);
    }
    this.#synced = true;
    this.#connected = this.#cmd.status === "ready";
    const timer = setInterval(() => void this.#tick(), this.#heartbeatMs);
    // ioredis brings Node's timer types; under Deno the id is a number.
    Deno.unrefTimer(Number(timer));
    this.#timer = timer;
    void this.#follow();
    this.#logger.log("info", "joined the cluster", { instance: this.instance });
  }

  /** Stops heartbeats and reading and drops the connections (peers resume elsewhere). */
  close(): void {
    this.#running = false;
    clearInterval(this.#timer);
    for (const redis of [this.#cmd, this.#reader, this.#sub]) redis.disconnect();
  }

  propose(op: Op): void {
    void this.#append(op);
  }

  /** Appends `op` to the shared order; resolves with its id (null when it could not be). */
  #append(op: Op): Promise<string | null> {
    return this.#cmd.xadd(
      this.#key("log"),
      "MAXLEN",
      "~",
      this.#maxLog,
      "*",
      "op",
      JSON.stringify(op),
    ).then((id) => {
      // Kept until it comes back, in case Redis loses it first.
      if (id !== null && compareIds(id, this.#applied) > 0) this.#inflight.set(id, op);
      return id;
    }).catch((error: Error) => {
      this.#logger.log("error", "cannot append a room change", {
        op: op.op,
        error: error.message,
      });
      return null;
    });
  }

  send(instance: string, peerId: string, text: string): boolean {
    if (!this.#connected || this.#stalled) return false;
    // Plain lines, not JSON: the frame's text is not escaped again.
    const message = `m\n${this.#applied}\n${peerId}\n${text}`;
    this.#cmd.publish(this.#channel(instance), message).catch(() => {});
    return true;
  }

  #key(name: string) {
    return `${this.#prefix}${name}`;
  }

  #channel(instance: string) {
    return `${this.#prefix}instance:${instance}`;
  }

  /** Redis is back: after a restart it is empty, and this instance says who is connected here. */
  async #reachable() {
    if (!this.#synced) return;
    try {
      const epoch = await this.#claimEpoch();
      await this.#beat();
      this.#connected = true;
      this.#logger.log("info", "Redis reachable again", { instance: this.instance });
      if (epoch !== this.#epoch) {
        this.#epoch = epoch;
        // Was this instance behind the others when Redis lost the log (it
        // was stopped, or slow)? Then the ops it had not read are gone with
        // it: it takes the rooms again from one that had read further.
        // The others may notice the restart after this one: asked again
        // with each heartbeat for a while (`#behindOthers`).
        this.#before = { applied: this.#applied, until: Date.now() + BEHIND_CHECK_MS };
        await this.#cmd.hset(this.#key("before"), this.instance, this.#applied);
        await this.#cmd.pexpire(this.#key("before"), 600_000);
        await this.#behindOthers();
        // A new, empty log: its ids may be below the old ones (another clock).
        this.#applied = "0-0";
        // What this instance appended and never saw come back was lost with it.
        const lost = [...this.#inflight.values()];
        this.#inflight.clear();
        this.#logger.log("warn", "Redis lost its data (restarted empty); asserting our peers", {
          instance: this.instance,
        });
        // The lost ops first, and our peers asserted only once they are
        // applied: an assertion made before them would still hold a room a
        // lost `part` left, and bring its person back in.
        const ids = (await Promise.all(lost.map((op) => this.#append({ ...op, replayed: true }))))
          .filter((id) => id !== null).sort(compareIds);
        const last = ids.at(-1);
        if (last === undefined || compareIds(this.#applied, last) >= 0) this.#handlers!.reassert();
        else this.#reassertAfter = last;
      }
    } catch (error) {
      this.#lastError = String(error);
    }
  }

  #unreachable() {
    if (!this.#connected) return;
    this.#connected = false;
    this.#logger.log("warn", "Redis unreachable: joins wait, calls go on", {
      instance: this.instance,
      error: this.#lastError,
    });
  }

  /** The id Redis's current contents were created under (a new one after it restarted empty). */
  async #claimEpoch(): Promise<string> {
    await this.#cmd.set(this.#key("epoch"), crypto.randomUUID(), "NX");
    return (await this.#cmd.get(this.#key("epoch"))) ?? "";
  }

  async #beat() {
    const homes = [...this.#handlers!.homes()].filter((home) => home !== this.instance);
    const sent = Date.now();
    const answer = await this.#cmd.eval(
      HEARTBEAT,
      4,
      this.#key("instances"),
      this.#key("log"),
      this.#key("applied"),
      this.#key("beat"),
      this.instance,
      String(this.#deadAfterMs),
      this.#maxLog,
      this.#maxLogAge,
      this.#applied,
      String(this.#heartbeatMs),
      ...homes,
    ) as string[];
    this.#lastBeat = sent;
    // Declared dead while it was away (not at start, nor after Redis lost
    // everything: the epoch tells that apart): it may have missed ops.
    if (answer[0] === "forgotten" && this.#synced && this.#resyncWanted === undefined) {
      const epoch = await this.#cmd.get(this.#key("epoch"));
      if (epoch === this.#epoch) {
        this.#resyncWanted = "the others declared this instance dead; it may have missed ops";
      }
    }
  }

  async #tick() {
    this.#release(Date.now() - MAX_GATE_MS);
    // One heartbeat at a time: a stalled Redis must not pile them up.
    if (!this.#connected || this.#beating) return;
    const wasStalled = this.#stalled;
    this.#beating = true;
    try {
      await this.#beat();
      await this.#behindOthers();
      if (wasStalled) this.#logger.log("info", "Redis answers again", { instance: this.instance });
    } catch (error) {
      this.#lastError = String(error);
    } finally {
      this.#beating = false;
    }
    if (!wasStalled && this.#stalled) {
      this.#logger.log("warn", "Redis does not answer: joins wait, calls go on", {
        instance: this.instance,
      });
    }
  }

  /** Takes the rooms from a running instance, or starts alone at the end of the log. */
  async #sync() {
    for (let round = 0;; round++) {
      const live = (await this.#cmd.eval(
        LIVE,
        1,
        this.#key("instances"),
        String(this.#deadAfterMs),
      ) as string[]).filter((id) => id !== this.instance);
      if (live.length === 0) {
        // Nobody runs: the first instance back starts from the cluster's
        // saved rooms, as one instance alone starts from `rooms.json`.
        const saved = await this.#savedRooms(Date.now());
        if (saved.rooms.length > 0 || saved.retired.length > 0) {
          this.#handlers!.restore(saved);
          this.#logger.log("info", "restored the rooms the cluster saved", {
            rooms: saved.rooms.length,
          });
        }
        break;
      }
      for (const other of live) {
        if (await this.#syncFrom(other)) return;
      }
      // Running instances that do not answer: starting empty would split
      // the cluster's rooms, so ask again (a dead one drops out of the set).
      this.#logger.log("warn", "no running instance handed over its rooms; asking again", {
        round,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const last = await this.#cmd.xrevrange(this.#key("log"), "+", "-", "COUNT", 1);
    this.#applied = last[0]?.[0] ?? "0-0";
  }

  /** Asks `other` for its rooms; true once they are loaded. */
  async #syncFrom(other: string): Promise<boolean> {
    this.#snapshot = Promise.withResolvers();
    // The timer may reject it while the request itself still waits on a
    // stalled Redis: observed now, so that is never an unhandled rejection.
    this.#snapshot.promise.catch(() => {});
    const timeout = setTimeout(
      () => this.#snapshot?.reject(new Error("no answer")),
      this.#syncTimeoutMs,
    );
    try {
      await this.#cmd.publish(this.#channel(other), JSON.stringify(["state?", this.instance]));
      const { applied, state } = await this.#snapshot.promise;
      this.#handlers!.importState(state);
      this.#applied = applied;
      this.#logger.log("info", "took the rooms from a running instance", { from: other });
      return true;
    } catch {
      this.#logger.log("warn", "a running instance did not hand over its rooms", { from: other });
      return false;
    } finally {
      clearTimeout(timeout);
      this.#snapshot = undefined;
    }
  }

  /**
   * Hands this instance's rooms to a starting one: in a short-lived key
   * (a pub/sub message that large could pass Redis's output limits), with
   * the op they include, announced on its channel.
   */
  async #handOver(to: string) {
    const key = this.#key(`state:${to}`);
    const applied = this.#applied;
    await this.#cmd.set(key, JSON.stringify(this.#handlers!.exportState()), "PX", 60_000);
    await this.#cmd.publish(this.#channel(to), JSON.stringify(["state", applied, key]));
  }

  /** The rooms a running instance handed over, from their key. */
  async #takeOver(applied: string, key: string) {
    const text = await this.#cmd.get(key);
    await this.#cmd.del(key);
    const state = text === null ? undefined : parseClusterState(JSON.parse(text));
    if (state === undefined) throw new TypeError(`Cannot load the rooms in ${key}`);
    this.#snapshot?.resolve({ applied, state });
  }

  /** Reads the shared order and applies it, for as long as the bus runs. */
  async #follow() {
    while (this.#running) {
      try {
        const batch = await this.#reader.xread(
          "COUNT",
          1000,
          "BLOCK",
          1000,
          "STREAMS",
          this.#key("log"),
          this.#applied,
        );
        if (this.#resyncWanted === undefined && (batch?.[0]?.[1].length ?? 0) > 0) {
          if (await this.#missedSome()) {
            this.#resyncWanted = "ops were trimmed before this instance read them";
          }
        }
        if (this.#resyncWanted !== undefined) {
          if (await this.#resync(this.#resyncWanted)) this.#resyncWanted = undefined;
          continue;
        }
        for (const [, entries] of batch ?? []) {
          for (const [id, fields] of entries) {
            this.#applied = id;
            this.#inflight.delete(id);
            if (!this.#applyEntry(fields)) {
              this.#resyncWanted = `an op it cannot read (${id})`;
              break;
            }
            if (this.#reassertAfter !== undefined && compareIds(id, this.#reassertAfter) >= 0) {
              this.#reassertAfter = undefined;
              this.#handlers!.reassert();
            }
          }
        }
        this.#release();
      } catch (error) {
        if (!this.#running) return;
        this.#lastError = String(error);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** Applies one entry; false if it cannot be read (then this instance's rooms may be wrong). */
  #applyEntry(fields: string[]): boolean {
    let op: Op | undefined;
    try {
      op = parseOp(JSON.parse(fields[fields.indexOf("op") + 1]));
    } catch {
      op = undefined;
    }
    if (op === undefined) return false;
    this.#handlers!.apply(op);
    return true;
  }

  /**
   * After Redis restarted empty: if another instance had applied ops this
   * one had not read when the log was lost, they are gone with it, and this
   * instance takes the rooms again.
   */
  async #behindOthers() {
    const before = this.#before;
    if (before === undefined) return;
    if (Date.now() > before.until) {
      this.#before = undefined;
      return;
    }
    const others = Object.entries(await this.#cmd.hgetall(this.#key("before")));
    if (
      others.some(([id, applied]) =>
        id !== this.instance && compareIds(applied, before.applied) > 0
      )
    ) {
      this.#before = undefined;
      this.#resyncWanted = "Redis restarted empty while this instance was behind";
    }
  }

  /** Whether ops after the one applied last were trimmed before this instance read them. */
  async #missedSome(): Promise<boolean> {
    if (this.#applied === "0-0") return false;
    const info = await this.#reader.xinfo("STREAM", this.#key("log")) as unknown[];
    const at = info.indexOf("max-deleted-entry-id");
    const deleted = at === -1 ? undefined : info[at + 1];
    return typeof deleted === "string" && compareIds(deleted, this.#applied) > 0;
  }

  /**
   * This instance missed ops (a gap, an op it cannot read, Redis restarted
   * empty while it was behind): it takes the rooms from a running instance,
   * as a starting one does, and its people hear what changed. False if none
   * answered (asked again on the next round).
   */
  async #resync(why: string): Promise<boolean> {
    this.#logger.log("warn", "this instance missed room changes; taking the rooms again", {
      instance: this.instance,
      why,
    });
    const live = (await this.#cmd.eval(
      LIVE,
      1,
      this.#key("instances"),
      String(this.#deadAfterMs),
    ) as string[]).filter((id) => id !== this.instance);
    for (const other of live) if (await this.#syncFrom(other)) return true;
    // Nobody else runs: what this instance holds is all there is.
    return live.length === 0;
  }

  /**
   * A pub/sub message for this instance: a relayed frame (`m`, the
   * sender's applied op, the peer and the text, one per line), or a state
   * request or answer (JSON).
   */
  #message(text: string) {
    if (text.startsWith("m\n")) {
      const afterEnd = text.indexOf("\n", 2);
      const peerEnd = text.indexOf("\n", afterEnd + 1);
      if (afterEnd < 0 || peerEnd < 0) return;
      const after = text.slice(2, afterEnd);
      const peerId = text.slice(afterEnd + 1, peerEnd);
      // Usually both instances are at the same op: nothing to wait for.
      if (
        this.#gated.length === 0 &&
        (after === this.#applied || compareIds(after, this.#applied) <= 0)
      ) {
        return this.#handlers!.deliver(peerId, text.slice(peerEnd + 1));
      }
      this.#gated.push({ after, peerId, text: text.slice(peerEnd + 1), at: Date.now() });
      if (this.#gated.length > MAX_GATED) this.#release(-Infinity, 1);
      return this.#release();
    }
    const message: unknown = JSON.parse(text);
    if (!Array.isArray(message)) return;
    const [kind, a, b] = message;
    if (kind === "state?" && typeof a === "string" && this.#synced) {
      this.#handOver(a).catch((error) =>
        this.#logger.log("error", "cannot hand over the rooms", { to: a, error: String(error) })
      );
    } else if (kind === "state" && typeof a === "string" && typeof b === "string") {
      this.#takeOver(a, b).catch((error) => this.#snapshot?.reject(error));
    }
  }

  /**
   * Hands over relayed frames, in arrival order, once this instance has
   * applied the ops their sender had (or they waited since `olderThan`,
   * or `count` must go to make room).
   */
  #release(olderThan = -Infinity, count = 0) {
    let i = 0;
    while (i < this.#gated.length) {
      const next = this.#gated[i];
      if (i >= count && next.at > olderThan && compareIds(next.after, this.#applied) > 0) break;
      this.#handlers!.deliver(next.peerId, next.text);
      i++;
    }
    if (i > 0) this.#gated = this.#gated.slice(i);
  }
}

/** A Redis URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable REDIS_URL)";
  }
}
