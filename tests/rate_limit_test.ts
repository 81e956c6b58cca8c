import assert from "node:assert/strict";
import { RateLimiter, TokenBucket } from "../lib/rate_limit.ts";

Deno.test("TokenBucket spends a burst, then refills at its rate up to the burst", () => {
  const bucket = new TokenBucket(3, 1 / 1000, 0);
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.take(0)), [true, true, true, false]);
  assert.equal(bucket.take(999), false, "not a whole action yet");
  assert.equal(bucket.take(1000), true, "one per second");
  assert.equal(bucket.full(1000), false);
  assert.equal(bucket.full(4000), true, "three seconds refill the burst");
  assert.deepEqual([1, 2, 3, 4].map(() => bucket.take(60_000)), [true, true, true, false]);
});

Deno.test("RateLimiter refuses frames past the burst and refills per second", () => {
  const limits = new RateLimiter({ rateBurst: 5, ratePerSecond: 2, abuseLimit: 100 })
    .connect("", 0);
  const verdicts = Array.from({ length: 7 }, () => limits.takeFrame(0));
  assert.deepEqual(verdicts, [
    "accept",
    "accept",
    "accept",
    "accept",
    "accept",
    "refuse",
    "refuse",
  ]);
  assert.equal(limits.takeFrame(500), "accept", "half a second: one frame at 2/s");
  assert.equal(limits.takeFrame(500), "refuse");
});

Deno.test("RateLimiter calls a connection abusive after abuseLimit refusals without a pause", () => {
  const limiter = new RateLimiter({ rateBurst: 2, ratePerSecond: 1, abuseLimit: 3 });
  const limits = limiter.connect("", 0);
  limits.takeFrame(0);
  limits.takeFrame(0);
  assert.deepEqual(
    [0, 0, 0].map((now) => limits.takeFrame(now)),
    ["refuse", "refuse", "abusive"],
  );
  // Positive control: a pause long enough to refill forgives the strikes.
  const patient = limiter.connect("", 0);
  patient.takeFrame(0);
  patient.takeFrame(0);
  assert.equal(patient.takeFrame(0), "refuse");
  assert.equal(patient.takeFrame(0), "refuse");
  assert.equal(patient.takeFrame(10_000), "accept", "refilled: the strikes are forgiven");
  patient.takeFrame(10_000);
  assert.deepEqual(
    [10_000, 10_000].map((now) => patient.takeFrame(now)),
    ["refuse", "refuse"],
    "two fresh strikes, not a third",
  );
});

Deno.test("RateLimiter gives a connection a join burst refilled per minute", () => {
  const limits = new RateLimiter({ joinBurst: 2, joinsPerMinute: 6 }).connect("", 0);
  assert.deepEqual([0, 0, 0].map((now) => limits.takeJoin(now)), [true, true, false]);
  assert.equal(limits.takeJoin(9_999), false);
  assert.equal(limits.takeJoin(10_000), true, "one join per 10 s");
});

Deno.test("RateLimiter shares ten connections' join budget among one address's connections", () => {
  const limiter = new RateLimiter({ joinBurst: 1, joinsPerMinute: 1 });
  const joins = (address: string) =>
    Array.from({ length: 12 }, () => limiter.connect(address, 0).takeJoin(0))
      .filter(Boolean).length;
  assert.equal(joins("198.51.100.7"), 10);
  assert.equal(joins("192.0.2.1"), 10, "another address has its own");
  assert.equal(joins(""), 12, "no address: each connection's own budget only");
});

Deno.test("RateLimiter forgets an address budget once it has refilled", () => {
  const limiter = new RateLimiter({ joinBurst: 1, joinsPerMinute: 60 });
  limiter.connect("198.51.100.7", 0).takeJoin(0);
  assert.equal(limiter.addressCount, 1);
  // The address holds 10 joins refilling at 10 a second: full again after 100 ms.
  limiter.sweep(99);
  assert.equal(limiter.addressCount, 1, "still refilling");
  limiter.sweep(100);
  assert.equal(limiter.addressCount, 0);
});

Deno.test("RateLimiter counts only wrong passwords: five per connection per ten minutes", () => {
  const limits = new RateLimiter().connect("", 0);
  for (let i = 0; i < 20; i++) {
    assert.equal(limits.takePasswordTry(0), true);
    limits.passwordWasRight();
  }
  const wrong = Array.from({ length: 7 }, () => limits.takePasswordTry(0));
  assert.deepEqual(wrong, [true, true, true, true, true, false, false]);
  assert.equal(limits.takePasswordTry(119_999), false);
  assert.equal(limits.takePasswordTry(120_000), true, "one more every two minutes");
});

Deno.test("RateLimiter shares twenty wrong passwords among one address's connections", () => {
  const limiter = new RateLimiter();
  const tries = (address: string) =>
    Array.from({ length: 6 }, () => limiter.connect(address, 0))
      .flatMap((limits) => Array.from({ length: 5 }, () => limits.takePasswordTry(0)))
      .filter(Boolean).length;
  assert.equal(tries("198.51.100.7"), 20);
  assert.equal(tries("192.0.2.1"), 20, "another address has its own");
  assert.equal(tries(""), 30, "no address: each connection's own budget only");
});
