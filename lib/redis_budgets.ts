/**
 * Shared rate budgets in Redis, so that the instances of a cluster spend
 * from one count (N instances must not give an address N times its
 * joins): a {@linkcode BudgetStore} whose token buckets are Redis hashes,
 * changed by one atomic Lua script on Redis's clock (the instances' clocks
 * may differ). A bucket expires once it would have refilled, so Redis
 * forgets full buckets by itself.
 *
 * The hub must keep working when Redis does not: while Redis is
 * unreachable, stalled or failing, budgets are counted in this process
 * ({@linkcode LocalBudgets}) — one instance's share, not the cluster's —
 * and every answer comes within about the command timeout. Keys hold
 * client addresses and room names: they are never logged.
 *
 * @module
 */

import { Redis } from "ioredis";
import { type Budget, type BudgetStore, LocalBudgets } from "./rate_limit.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";

/** Options of a {@linkcode RedisBudgets}; all but `url` have defaults. */
export interface RedisBudgetsOptions {
  /** `REDIS_URL`, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** Prefix of every key, so one Redis can serve several clusters. Default `mesh:`. */
  prefix?: string;
  /** Default: writes nothing. */
  logger?: Logger;
  /** How long an answer from Redis may take before the local count answers instead, ms. Default 500. */
  commandTimeoutMs?: number;
}

/** What the script does to a bucket (`peek`: nothing, it only looks). */
type Mode = "take" | "giveBack" | "drain" | "peek";

/** Kept past the time a bucket needs to refill, ms, so rounding never forgets one early. */
const EXPIRY_SLACK_MS = 10;

/** How long {@linkcode RedisBudgets.start} waits for Redis before counting locally, ms. */
const START_WAIT_MS = 2000;

/** While Redis does not answer, how often one PING asks whether it is back, ms. */
const PROBE_MS = 1000;

/**
 * One token bucket: KEYS[1] is a hash of `tokens` and `time` (ms, by
 * Redis's clock); ARGV is the mode, the burst and the refill per ms. A
 * bucket Redis does not hold is full. `take` spends one token if there is
 * one (1, else 0); `giveBack` adds one, up to the burst; `drain` empties
 * it as of now. A bucket left full is deleted; any other gets an expiry
 * at the time it will be full again.
 */
const BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local mode = ARGV[1]
local burst = tonumber(ARGV[2])
local perMs = tonumber(ARGV[3])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'time')
local tokens, at = tonumber(saved[1]), tonumber(saved[2])
if tokens == nil or at == nil then
  -- Nothing to give back to a full bucket, and a full one has an action.
  if mode == 'giveBack' or mode == 'peek' then return 1 end
  tokens, at = burst, now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
-- A look, changing nothing.
if mode == 'peek' then
  if tokens >= 1 then return 1 else return 0 end
end
local granted = 1
if mode == 'take' then
  if tokens < 1 then granted = 0 else tokens = tokens - 1 end
elseif mode == 'giveBack' then
  tokens = math.min(burst, tokens + 1)
else
  tokens = 0
end
if tokens >= burst then
  redis.call('DEL', KEYS[1])
  return granted
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'time', string.format('%.17g', now))
if perMs > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + ${EXPIRY_SLACK_MS})
else
  redis.call('PERSIST', KEYS[1])
end
return granted
`;

/** Budgets every instance of a cluster shares through one Redis, counted here while it is away. */
export class RedisBudgets implements BudgetStore {
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #redis: Redis;
  /** Counts while Redis does not answer. */
  readonly #local = new LocalBudgets();
  /** Whether Redis answered last; false from the first failure until it answers again. */
  #answering = true;
  #probing = false;
  #lastProbe = -Infinity;
  #lastError = "";
  #closed = false;

  /** Budgets on `options.url`; nothing is sent before {@linkcode RedisBudgets.start}. */
  constructor(options: RedisBudgetsOptions) {
    this.#prefix = options.prefix ?? "mesh:";
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      // A budget is asked for now or never: no queue while disconnected,
      // and a command lost with its connection fails at once and is not
      // sent again on reconnect (the local count answered it already).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 500,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      connectionName: "mesh-budgets",
    });
    this.#redis.on("error", (error: Error) => {
      this.#lastError = error.message;
    });
    // A new connection passed ioredis's ready check: Redis answers.
    this.#redis.on("ready", () => this.#answered());
  }

  /**
   * Connects. Resolves once connected, or once the first attempt failed
   * (at most two seconds): until Redis answers, budgets are counted here,
   * and ioredis keeps reconnecting.
   */
  async start(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connected = this.#redis.connect().then(() => true, (error: Error) => {
      this.#lastError = error.message;
      return false;
    });
    const waited = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), START_WAIT_MS);
    });
    try {
      if (!await Promise.race([connected, waited])) this.#failed(this.#lastError);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops the connection; budgets asked for afterwards are counted here. */
  close(): void {
    this.#closed = true;
    this.#redis.disconnect();
  }

  /** Spends one action of `budget` for `key` if one is left; never rejects. */
  take(budget: Budget, key: string, now: number): Promise<boolean> {
    return this.#ask("take", budget, key, now);
  }

  /** Whether `key` has an action left, spending nothing; never rejects. */
  peek(budget: Budget, key: string, now: number): Promise<boolean> {
    return this.#ask("peek", budget, key, now);
  }

  #ask(mode: "take" | "peek", budget: Budget, key: string, now: number): Promise<boolean> {
    if (!this.#usable()) return Promise.resolve(this.#local[mode](budget, key, now));
    return this.#run(mode, budget, key).then(
      (granted) => granted === 1,
      (error: Error) => {
        this.#failed(error.message);
        return this.#local[mode](budget, key, now);
      },
    );
  }

  giveBack(budget: Budget, key: string, _now: number): void {
    if (!this.#usable()) return this.#local.giveBack(budget, key);
    this.#run("giveBack", budget, key).catch((error: Error) => {
      this.#unsent("giveBack", budget, error);
      this.#local.giveBack(budget, key);
    });
  }

  drain(budget: Budget, key: string, now: number): void {
    if (!this.#usable()) return this.#local.drain(budget, key, now);
    this.#run("drain", budget, key).catch((error: Error) => {
      this.#unsent("drain", budget, error);
      this.#local.drain(budget, key, now);
    });
  }

  /** Forgets the local count's refilled budgets; Redis expires its own. */
  sweep(now: number): void {
    this.#local.sweep(now);
  }

  #run(mode: Mode, budget: Budget, key: string): Promise<unknown> {
    return this.#redis.eval(
      BUCKET,
      1,
      `${this.#prefix}budget:${budget.name}:${key}`,
      mode,
      String(budget.burst),
      String(budget.perMs),
    );
  }

  /**
   * Whether to ask Redis. Not while it is disconnected, and not while it
   * failed (each call would wait the command timeout on a stalled one):
   * then one PING at a time asks whether it is back.
   */
  #usable(): boolean {
    if (this.#closed) return false;
    if (this.#redis.status !== "ready") {
      this.#failed(`Redis is ${this.#redis.status}${this.#lastError && `: ${this.#lastError}`}`);
      return false;
    }
    if (this.#answering) return true;
    if (!this.#probing && performance.now() - this.#lastProbe >= PROBE_MS) {
      this.#probing = true;
      this.#lastProbe = performance.now();
      this.#redis.ping()
        .then(() => this.#answered(), (error: Error) => {
          this.#lastError = error.message;
        })
        .finally(() => this.#probing = false);
    }
    return false;
  }

  #failed(error: string) {
    if (!this.#answering || this.#closed) return;
    this.#answering = false;
    this.#logger.log("warn", "Redis does not answer: budgets are counted in this instance", {
      error,
    });
  }

  #answered() {
    if (this.#answering || this.#closed) return;
    this.#answering = true;
    this.#logger.log("info", "Redis answers again: budgets are shared");
  }

  /** A giveBack or drain that did not reach Redis (the local count took it). */
  #unsent(mode: Mode, budget: Budget, error: Error) {
    this.#failed(error.message);
    this.#logger.log("debug", "a budget change did not reach Redis", {
      mode,
      budget: budget.name,
      error: error.message,
    });
  }
}
