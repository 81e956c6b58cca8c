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
 * {@linkcode RedisBus} holds the connections and what happens as Redis
 * comes, goes and stalls; each part is a module of its own:
 *
 * - `redis_stream.ts`: the shared order — appending, the read loop, gaps;
 * - `redis_heartbeat.ts`: liveness — heartbeats, death, the trim by age;
 * - `redis_recovery.ts`: when Redis forgot — it restarted empty, or the
 *   others declared this instance dead — and what this instance missed;
 * - `redis_handover.ts`: the rooms handed between instances, and saved;
 * - `redis_relay.ts`: frames relayed between instances, held for their ops;
 * - `redis_keys.ts`: the key names, and every timing and limit.
 *
 * @module
 */

import { Redis } from "ioredis";
import type { Bus, BusHandlers, Op } from "./cluster.ts";
import type { RoomSnapshot } from "./room_snapshots.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { RetiredEntries } from "./retired.ts";
import { Handover } from "./redis_handover.ts";
import { Heartbeat } from "./redis_heartbeat.ts";
import {
  DEFAULT_DEAD_AFTER_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_LOG_AGE_MS,
  DEFAULT_MAX_LOG_LENGTH,
  DEFAULT_PREFIX,
  DEFAULT_SYNC_TIMEOUT_MS,
  RECONNECT_MAX_MS,
  RECONNECT_STEP_MS,
  type RedisKeys,
  redisKeys,
  WAITING_LOG_MS,
} from "./redis_keys.ts";
import { RedisRecovery } from "./redis_recovery.ts";
import { RedisRelays } from "./redis_relay.ts";
import { OpStream } from "./redis_stream.ts";

export { compareIds } from "./redis_stream.ts";

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

/** Instances sharing rooms through one Redis. */
export class RedisBus implements Bus {
  /** This instance's id, random per process. */
  readonly instance: string = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  readonly #url: string;
  readonly #logger: Logger;
  readonly #keys: RedisKeys;
  /** Commands, appends and publishes (queued while Redis is away, sent when it is back). */
  readonly #cmd: Redis;
  /** The blocking stream read. */
  readonly #reader: Redis;
  /** This instance's pub/sub channel (resubscribed by ioredis after a reconnect). */
  readonly #sub: Redis;
  readonly #heartbeat: Heartbeat;
  readonly #recovery: RedisRecovery;
  readonly #stream: OpStream;
  readonly #handover: Handover;
  readonly #relays: RedisRelays;
  #handlers: BusHandlers | undefined;
  #synced = false;
  #connected = false;
  #lastError = "";
  #beating = false;
  /** The last epoch comparison (they run one after another). */
  #epochChecked: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A bus on `options.url`; nothing happens before {@linkcode RedisBus.start}. */
  constructor(options: RedisBusOptions) {
    this.#url = options.url;
    this.#logger = options.logger ?? SILENT_LOGGER;
    const keys = this.#keys = redisKeys(options.prefix ?? DEFAULT_PREFIX);
    const maxLog = String(options.maxLogLength ?? DEFAULT_MAX_LOG_LENGTH);
    const connect = (name: string, { failOnClose = false, readyCheck = true } = {}) =>
      connection(this.#url, {
        name: `mesh-${name}-${this.instance}`,
        failOnClose,
        readyCheck,
        onError: (error) => {
          this.#lastError = error.message;
        },
      });
    const cmd = this.#cmd = connect("cmd");
    // Its pending read fails when the connection drops, and is not sent again
    // by itself: the next one waits until Redis's epoch is compared.
    this.#reader = connect("reader", { failOnClose: true });
    // No ready check (INFO) on it: in subscriber mode Redis refuses one.
    this.#sub = connect("sub", { readyCheck: false });
    const instance = this.instance;
    const logger = this.#logger;
    this.#heartbeat = new Heartbeat({
      cmd,
      keys,
      instance,
      intervalMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      deadAfterMs: options.deadAfterMs ?? DEFAULT_DEAD_AFTER_MS,
      maxLog,
      maxLogAge: String(options.maxLogAgeMs ?? DEFAULT_MAX_LOG_AGE_MS),
    });
    const stream = this.#stream = new OpStream({
      cmd,
      reader: this.#reader,
      keys,
      maxLog,
      logger,
      apply: (op) => this.#handlers!.apply(op),
      reassert: () => this.#handlers!.reassert(),
      resync: (why) => this.#handover.resync(why),
      caughtUp: () => this.#relays.release(),
      failed: (error) => {
        this.#lastError = String(error);
      },
      checkEpoch: () => this.#checkEpoch(),
    });
    this.#reader.on("close", () => stream.connectionLost());
    this.#recovery = new RedisRecovery({ cmd, keys, instance, logger, stream });
    this.#handover = new Handover({
      cmd,
      keys,
      instance,
      syncTimeoutMs: options.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS,
      // Others reconnect within a second and beat at once: a heartbeat or two more.
      freshWaitMs: 2 * (options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS) + RECONNECT_MAX_MS,
      logger,
      stream,
      liveOthers: () => this.#heartbeat.liveOthers(),
      listen: () => this.#listen(),
      status: () =>
        !this.#synced ? "starting" : this.#stream.resyncWanted ? "resyncing" : "serving",
      exportState: () => this.#handlers!.exportState(),
      importState: (state) => this.#handlers!.importState(state),
      restore: (saved) => this.#handlers!.restore(saved),
    });
    this.#relays = new RedisRelays({
      cmd,
      keys,
      stream,
      deliver: (peerId, text) => this.#handlers!.deliver(peerId, text),
    });
  }

  /**
   * Saves every room's authority and the retirements to `mesh:rooms`, kept
   * ten minutes: every instance writes the same copy when it changes, so
   * the cluster survives every instance stopping at once.
   */
  saveRooms(rooms: RoomSnapshot[], retired: RetiredEntries): Promise<void> {
    return this.#handover.save(rooms, retired);
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
    if (this.#heartbeat.stalled) {
      return `Redis unreachable (no answer for ${
        Math.round((Date.now() - this.#heartbeat.lastBeat) / 1000)
      } s)`;
    }
    return undefined;
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
        if (!this.#relays.receive(message)) this.#handover.receive(message);
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
    }, WAITING_LOG_MS);
    try {
      await connecting.catch(() => this.#cmd.ping());
      await this.#sub.subscribe(this.#keys.channel(this.instance));
      const { epoch, fresh } = await this.#recovery.claim();
      this.#recovery.adopt(epoch);
      await this.#beat();
      await this.#handover.sync({ fresh });
      // Taking the rooms may have waited for silent instances to drop out: beat
      // again, or this instance would call itself stalled until its first tick.
      await this.#beat();
    } finally {
      clearInterval(waiting);
    }
    this.#synced = true;
    this.#connected = this.#cmd.status === "ready";
    const timer = setInterval(() => void this.#tick(), this.#heartbeat.intervalMs);
    // ioredis brings Node's timer types; under Deno the id is a number.
    Deno.unrefTimer(Number(timer));
    this.#timer = timer;
    void this.#stream.follow();
    this.#logger.log("info", "joined the cluster", { instance: this.instance });
  }

  /** Stops heartbeats and reading and drops the connections (peers resume elsewhere). */
  close(): void {
    this.#stream.stop();
    clearInterval(this.#timer);
    for (const redis of [this.#cmd, this.#reader, this.#sub]) redis.disconnect();
  }

  propose(op: Op): void {
    void this.#stream.append(op);
  }

  send(instance: string, peerId: string, text: string): boolean {
    if (!this.#connected || this.#heartbeat.stalled) return false;
    this.#relays.send(instance, peerId, text);
    return true;
  }

  /** Redis is back: after a restart it is empty, and this instance says who is connected here. */
  async #reachable() {
    if (!this.#synced) return;
    try {
      await this.#checkEpoch();
      await this.#beat();
      this.#connected = true;
      this.#logger.log("info", "Redis reachable again", { instance: this.instance });
    } catch (error) {
      this.#lastError = String(error);
    }
  }

  /**
   * Compares Redis's epoch with the one known here; a new one means Redis
   * restarted empty, and this instance records where it stood in the lost
   * log and reads the new one from its start. One comparison at a time:
   * the command and reading connections each ask after a reconnect.
   */
  #checkEpoch(): Promise<void> {
    const check = this.#epochChecked.then(async () => {
      const { epoch } = await this.#recovery.claim();
      if (this.#recovery.adopt(epoch)) await this.#recovery.restartedEmpty();
    });
    this.#epochChecked = check.catch(() => {});
    return check;
  }

  #unreachable() {
    if (!this.#connected) return;
    this.#connected = false;
    this.#logger.log("warn", "Redis unreachable: joins wait, calls go on", {
      instance: this.instance,
      error: this.#lastError,
    });
  }

  /**
   * Subscribes to this instance's channel again if Redis lists nobody on
   * it: a subscription lost in a reconnect would leave this instance deaf
   * to relays and hand-overs. (A connection still away subscribes by
   * itself once it is back.)
   */
  async #listen(): Promise<void> {
    if (this.#sub.status !== "ready") return;
    const channel = this.#keys.channel(this.instance);
    const [, count] = await this.#cmd.pubsub("NUMSUB", channel) as [string, number];
    if (Number(count) > 0) return;
    this.#logger.log("warn", "not subscribed to this instance's channel; subscribing again", {
      instance: this.instance,
    });
    this.#sub.subscribe(channel).catch((error: Error) => {
      this.#lastError = error.message;
    });
  }

  async #beat() {
    const homes = this.#handlers!.homes();
    const sent = this.#recovery.beating();
    const forgotten = await this.#heartbeat.beat(this.#stream.applied, homes);
    // Missed ops matter only once this instance serves (a starting one takes the rooms anyway).
    await this.#recovery.beaten(forgotten && this.#synced, sent);
  }

  async #tick() {
    this.#relays.expire(Date.now());
    // One heartbeat at a time: a stalled Redis must not pile them up.
    if (!this.#connected || this.#beating) return;
    const wasStalled = this.#heartbeat.stalled;
    this.#beating = true;
    try {
      await this.#beat();
      await this.#listen();
      await this.#recovery.behindOthers();
      if (wasStalled) this.#logger.log("info", "Redis answers again", { instance: this.instance });
    } catch (error) {
      this.#lastError = String(error);
    } finally {
      this.#beating = false;
    }
    if (!wasStalled && this.#heartbeat.stalled) {
      this.#logger.log("warn", "Redis does not answer: joins wait, calls go on", {
        instance: this.instance,
      });
    }
  }
}

/**
 * A connection to `url` that connects when told, queues commands while
 * Redis is away and keeps reconnecting.
 */
function connection(url: string, options: {
  /** Its name in CLIENT LIST, where tests and operators find an instance's connections. */
  name: string;
  /** Every error it meets (it reconnects by itself). */
  onError: (error: Error) => void;
  /** Commands pending when it drops fail, rather than wait to be sent again. */
  failOnClose?: boolean;
  /** Whether it asks Redis for INFO before it counts as ready. */
  readyCheck?: boolean;
}): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableReadyCheck: options.readyCheck ?? true,
    maxRetriesPerRequest: options.failOnClose ? 0 : null,
    retryStrategy: (times) => Math.min(times * RECONNECT_STEP_MS, RECONNECT_MAX_MS),
    connectionName: options.name,
  });
  redis.on("error", options.onError);
  return redis;
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
