import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createLogger, type Logger, type LogLevel } from "../lib/log.ts";
import type { Budget } from "../lib/rate_limit.ts";
import { RedisBudgets, type RedisBudgetsOptions } from "../lib/redis_budgets.ts";
import { type RedisServer, startRedis } from "./_redis.ts";

/** Refills one action an hour: nothing refills during a test. */
const SLOW = { burst: 5, perMs: 1 / 3_600_000 };
/** An IPv6 client's /64, as the rate limiter keys an address. */
const ADDRESS = "2001:db8:0:0::/64";

/** What a test gets: the server, a raw client on it, and budgets opened on it. */
interface Setup {
  redis: RedisServer;
  raw: Redis;
  open(options?: Partial<RedisBudgetsOptions>): Promise<RedisBudgets>;
}

/** A redis-server, a raw client and the budgets `fn` opens, all closed after it. */
async function withRedis(fn: (setup: Setup) => Promise<void>) {
  const redis = await startRedis();
  const opened: RedisBudgets[] = [];
  const raw = new Redis(redis.url, {
    lazyConnect: true,
    commandTimeout: 5000,
    retryStrategy: () => 50,
  });
  raw.on("error", () => {});
  try {
    await raw.connect();
    await fn({
      redis,
      raw,
      async open(options = {}) {
        const budgets = new RedisBudgets({ url: redis.url, ...options });
        opened.push(budgets);
        await budgets.start();
        return budgets;
      },
    });
  } finally {
    for (const budgets of opened) budgets.close();
    raw.disconnect();
    await redis.stop();
  }
}

/** Resolves once `condition()` resolves true, asking every 5 ms; fails naming `what`. */
async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  while (!await condition()) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A logger that keeps its lines, by level. */
function recordingLogger(): { logger: Logger; lines: { level: LogLevel; line: string }[] } {
  const lines: { level: LogLevel; line: string }[] = [];
  return {
    logger: createLogger({ level: "debug", write: (line, level) => lines.push({ level, line }) }),
    lines,
  };
}

/** How many of `lines` are at `level`. */
function count(lines: { level: LogLevel }[], level: LogLevel): number {
  return lines.filter((l) => l.level === level).length;
}

/** How long `verdict` takes to settle, ms, with its answer. */
async function timed(verdict: () => Promise<boolean>): Promise<[boolean, number]> {
  const start = performance.now();
  const answer = await verdict();
  return [answer, performance.now() - start];
}

Deno.test("RedisBudgets shares one budget between two instances", async () => {
  await withRedis(async ({ raw, open }) => {
    const a = await open();
    const b = await open();
    const joins: Budget = { name: "joins", ...SLOW };
    // Their clocks disagree wildly: Redis's clock counts, not theirs.
    const answers = [
      await a.take(joins, ADDRESS, 0),
      await b.take(joins, ADDRESS, 1e12),
      await a.take(joins, ADDRESS, 0),
      await b.take(joins, ADDRESS, 1e12),
      await a.take(joins, ADDRESS, 0),
    ];
    assert.deepEqual(answers, [true, true, true, true, true]);
    assert.equal(await b.take(joins, ADDRESS, 1e12), false, "the sixth, on b, is refused");
    assert.equal(await a.take(joins, ADDRESS, 0), false, "and on a");
    assert.equal(await b.take(joins, "198.51.100.7", 1e12), true, "another key has its own");
    assert.equal(await raw.exists(`mesh:budget:joins:${ADDRESS}`), 1, "counted in Redis");
    const other = await open({ prefix: "other:" });
    assert.equal(await other.take(joins, ADDRESS, 0), true, "another prefix is another cluster");
  });
});

Deno.test("RedisBudgets gives back, drains, and refills on Redis's clock", async () => {
  await withRedis(async ({ open }) => {
    const budgets = await open();
    const tries: Budget = { name: "tries", burst: 2, perMs: SLOW.perMs };
    assert.deepEqual(
      [await budgets.take(tries, "room", 0), await budgets.take(tries, "room", 0)],
      [true, true],
    );
    assert.equal(await budgets.take(tries, "room", 0), false);
    // One connection: Redis runs the giveBack before the take sent after it.
    budgets.giveBack(tries, "room", 0);
    assert.equal(await budgets.take(tries, "room", 0), true, "the action given back");
    assert.equal(await budgets.take(tries, "room", 0), false);

    const denied: Budget = { name: "denied", ...SLOW };
    assert.equal(await budgets.take(denied, "door", 0), true, "a fresh budget grants");
    budgets.drain(denied, "door", 0);
    assert.equal(await budgets.take(denied, "door", 0), false, "a drained one refuses");

    // One action per 50 ms: a drained bucket grants again 50 ms after the drain.
    const fast: Budget = { name: "fast", burst: 1, perMs: 1 / 50 };
    const drained = performance.now();
    budgets.drain(fast, "door", 0);
    await eventually(() => budgets.take(fast, "door", 0), "the drained budget to refill");
    const waited = performance.now() - drained;
    assert.ok(waited >= 45, `refilled after ${waited.toFixed(1)} ms, not before 50 ms`);
  });
});

Deno.test("RedisBudgets leaves a bucket in Redis only until it has refilled", async () => {
  await withRedis(async ({ raw, open }) => {
    const budgets = await open();
    // Burst 2, one action per 20 ms: one take is refilled 20 ms later.
    const fast: Budget = { name: "fast", burst: 2, perMs: 1 / 20 };
    const key = `mesh:budget:fast:${ADDRESS}`;
    assert.equal(await budgets.take(fast, ADDRESS, 0), true);
    assert.equal(await raw.exists(key), 1, "a spent bucket is kept");
    const ttl = await raw.pttl(key);
    assert.ok(ttl > 0 && ttl <= 30, `expires once refilled (PTTL ${ttl} ms)`);
    await eventually(async () => await raw.exists(key) === 0, "the refilled bucket to expire");

    // A drained bucket lives as long as a whole burst takes to refill.
    const knocks: Budget = { name: "knocks", burst: 3, perMs: 3 / 60_000 };
    budgets.drain(knocks, "room", 0);
    assert.equal(await budgets.take(knocks, "room", 0), false);
    const drainedTtl = await raw.pttl("mesh:budget:knocks:room");
    assert.ok(drainedTtl > 59_000 && drainedTtl <= 60_010, `PTTL ${drainedTtl} ms`);

    // A giveBack that fills the bucket forgets it; one on a full bucket makes none.
    const slow: Budget = { name: "slow", ...SLOW };
    assert.equal(await budgets.take(slow, "a", 0), true);
    assert.equal(await raw.exists("mesh:budget:slow:a"), 1);
    budgets.giveBack(slow, "a", 0);
    budgets.giveBack(slow, "b", 0);
    // Sent after both on the same connection: once it answers, they ran.
    assert.equal(await budgets.take(slow, "c", 0), true);
    assert.deepEqual(
      [await raw.exists("mesh:budget:slow:a"), await raw.exists("mesh:budget:slow:b")],
      [0, 0],
    );
  });
});

Deno.test("RedisBudgets counts in the instance while Redis is down, and in Redis once it is back", async () => {
  await withRedis(async ({ redis, raw, open }) => {
    const { logger, lines } = recordingLogger();
    const budgets = await open({ logger, commandTimeoutMs: 300 });
    const tries: Budget = { name: "tries", burst: 2, perMs: SLOW.perMs };
    assert.equal(await budgets.take(tries, ADDRESS, 0), true);
    assert.equal(await raw.exists(`mesh:budget:tries:${ADDRESS}`), 1, "Redis counts first");

    await redis.kill();
    // The local count starts full, and still limits.
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await timed(() => budgets.take(tries, ADDRESS, 0)));
    assert.deepEqual(answers.map(([answer]) => answer), [true, true, false]);
    for (const [, ms] of answers) assert.ok(ms < 300 + 200, `answered in ${ms.toFixed(0)} ms`);
    budgets.giveBack(tries, ADDRESS, 0);
    assert.equal(await budgets.take(tries, ADDRESS, 0), true, "given back locally");
    budgets.drain(tries, "door", 0);
    assert.equal(await budgets.take(tries, "door", 0), false, "drained locally");
    assert.equal(count(lines, "warn"), 1, "one warning for the outage, not one per call");

    await redis.restart();
    await eventually(
      async () =>
        await budgets.take(tries, "back", 0) && await raw.exists("mesh:budget:tries:back") === 1,
      "a take to be counted in the restarted Redis",
    );
    assert.equal(count(lines, "info"), 1, "one line saying Redis is back");
    assert.equal(count(lines, "warn"), 1);
    assert.ok(
      lines.every(({ line }) => !line.includes(ADDRESS) && !line.includes("door")),
      "no key is logged",
    );
  });
});

Deno.test("RedisBudgets answers within the command timeout while Redis is paused", async () => {
  await withRedis(async ({ redis, raw, open }) => {
    const { logger, lines } = recordingLogger();
    const budgets = await open({ logger, commandTimeoutMs: 300 });
    const joins: Budget = { name: "joins", ...SLOW };
    assert.equal(await budgets.take(joins, ADDRESS, 0), true);
    redis.pause();
    try {
      const [first, waited] = await timed(() => budgets.take(joins, ADDRESS, 0));
      assert.equal(first, true, "answered by the local count");
      assert.ok(waited >= 250 && waited < 300 + 300, `first answer in ${waited.toFixed(0)} ms`);
      // Known to be stalled: later calls do not wait for it again.
      const [second, quick] = await timed(() => budgets.take(joins, ADDRESS, 0));
      assert.equal(second, true);
      assert.ok(quick < 300, `second answer in ${quick.toFixed(0)} ms`);
      assert.equal(count(lines, "warn"), 1);
    } finally {
      redis.unpause();
    }
    await eventually(
      async () =>
        await budgets.take(joins, "after", 0) && await raw.exists("mesh:budget:joins:after") === 1,
      "a take to be counted in Redis after the pause",
    );
    assert.equal(count(lines, "info"), 1, "one line saying Redis is back");
  });
});

Deno.test("RedisBudgets starts while Redis is unreachable and uses it once it comes up", async () => {
  await withRedis(async ({ redis, raw, open }) => {
    await redis.kill();
    const { logger, lines } = recordingLogger();
    const budgets = await open({ logger });
    const joins: Budget = { name: "joins", burst: 1, perMs: SLOW.perMs };
    assert.deepEqual(
      [await budgets.take(joins, ADDRESS, 0), await budgets.take(joins, ADDRESS, 0)],
      [true, false],
      "counted locally",
    );
    assert.equal(count(lines, "warn"), 1);
    await redis.restart();
    await eventually(
      async () =>
        await budgets.take(joins, "up", 0) && await raw.exists("mesh:budget:joins:up") === 1,
      "a take to be counted in Redis once it is up",
    );
    budgets.close();
    assert.equal(await budgets.take(joins, "closed", 0), true, "closed: answered locally");
    assert.equal(await raw.exists("mesh:budget:joins:closed"), 0);
  });
});

Deno.test("RedisBudgets peeks at a budget without spending it, across instances", async () => {
  await withRedis(async ({ open, raw }) => {
    const [a, b] = [await open(), await open()];
    const wait: Budget = { name: "wait", burst: 1, perMs: 1 / 3_600_000 };
    assert.equal(await a.peek(wait, ADDRESS, 0), true, "a bucket Redis does not hold is full");
    assert.equal(await raw.exists(`mesh:budget:wait:${ADDRESS}`), 0, "a look writes nothing");
    assert.equal(await b.peek(wait, ADDRESS, 0), true, "and spends nothing");
    b.drain(wait, ADDRESS, 0);
    await eventually(async () => !await a.peek(wait, ADDRESS, 0), "the drain seen from a");
    assert.equal(await a.take(wait, ADDRESS, 0), false);
    assert.equal(await a.peek(wait, "another", 0), true);
  });
});
