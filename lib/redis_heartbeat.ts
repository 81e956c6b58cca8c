/**
 * Liveness: each instance's heartbeat is a score in a sorted set, by
 * Redis's clock (so instances' clocks may differ), and the script that
 * sets it also declares dead — once, atomically, by appending a `dead` op
 * — every instance whose score is too old, trims the stream by age (never
 * past an op a live instance still has to read), and keeps a stall of
 * Redis itself from counting as anyone's silence. An instance whose
 * heartbeats get no answer for the dead time calls itself stalled.
 *
 * @module
 */

import type { Redis } from "ioredis";
import type { RedisKeys } from "./redis_keys.ts";

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

/** What a {@linkcode Heartbeat} works with. */
export interface HeartbeatOptions {
  /** The command connection (a stalled Redis answers nothing on it, and closes nothing). */
  cmd: Redis;
  keys: RedisKeys;
  /** This instance's id. */
  instance: string;
  /** How often this instance beats, ms. */
  intervalMs: number;
  /** Silence after which an instance is declared dead, ms. */
  deadAfterMs: number;
  /** Ops the stream keeps (about), as the argument of `MAXLEN ~`. */
  maxLog: string;
  /** How long the stream keeps an op (about), ms, as the script's argument. */
  maxLogAge: string;
}

/** This instance's heartbeat, and what it knows of the others' by it. */
export class Heartbeat {
  /** How often this instance beats, ms. */
  readonly intervalMs: number;
  readonly #options: HeartbeatOptions;
  readonly #deadAfterMs: string;
  /** When a heartbeat last went through (a stalled Redis answers nothing, and closes nothing). */
  #lastBeat = 0;

  /** A heartbeat in `options.keys.instances`; nothing is sent before {@linkcode Heartbeat.beat}. */
  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs;
    this.#deadAfterMs = String(options.deadAfterMs);
  }

  /** When a heartbeat last went through (0 before the first). */
  get lastBeat(): number {
    return this.#lastBeat;
  }

  /** Connected, but the heartbeats get no answer: as good as unreachable. */
  get stalled(): boolean {
    return Date.now() - this.#lastBeat > this.#options.deadAfterMs;
  }

  /**
   * Beats once, saying `applied` is the last op applied here and starting
   * the clock of `homes` Redis does not know; true when this instance was
   * not in the set (its first beat, the others declared it dead, or Redis
   * restarted empty).
   */
  async beat(applied: string, homes: Iterable<string>): Promise<boolean> {
    const { cmd, keys, instance } = this.#options;
    const others = [...homes].filter((home) => home !== instance);
    const sent = Date.now();
    const answer = await cmd.eval(
      HEARTBEAT,
      4,
      keys.instances,
      keys.log,
      keys.applied,
      keys.beat,
      instance,
      this.#deadAfterMs,
      this.#options.maxLog,
      this.#options.maxLogAge,
      applied,
      String(this.#options.intervalMs),
      ...others,
    ) as string[];
    this.#lastBeat = sent;
    return answer[0] === "forgotten";
  }

  /** The other instances alive now, by Redis's clock. */
  async liveOthers(): Promise<string[]> {
    const live = await this.#options.cmd.eval(
      LIVE,
      1,
      this.#options.keys.instances,
      this.#deadAfterMs,
    ) as string[];
    return live.filter((id) => id !== this.#options.instance);
  }
}
