import assert from "node:assert/strict";
import {
  addressGroup,
  type BudgetStore,
  LocalBudgets,
  RateLimiter,
  TokenBucket,
} from "../lib/rate_limit.ts";

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
    assert.equal(limits.takePasswordTry("room", 0), "ok");
    limits.returnPasswordTry("room", 0);
  }
  const wrong = Array.from({ length: 7 }, () => limits.takePasswordTry("room", 0));
  assert.deepEqual(wrong, ["ok", "ok", "ok", "ok", "ok", "mine", "mine"]);
  assert.equal(limits.takePasswordTry("room", 119_999), "mine");
  assert.equal(limits.takePasswordTry("room", 120_000), "ok", "one more every two minutes");
});

Deno.test("RateLimiter shares twenty wrong passwords among one address's connections", () => {
  const limiter = new RateLimiter({
    passwordTriesPerRoom: 1000,
    passwordTriesPerAddressPerRoom: 100,
  });
  const tries = (address: string) =>
    Array.from({ length: 6 }, () => limiter.connect(address, 0))
      .flatMap((limits) => Array.from({ length: 5 }, () => limits.takePasswordTry("room", 0)))
      .filter((verdict) => verdict === "ok").length;
  assert.equal(tries("198.51.100.7"), 20);
  assert.equal(tries("192.0.2.1"), 20, "another address has its own");
  assert.equal(tries(""), 30, "no address: each connection's own budget only");
});

Deno.test("RateLimiter limits wrong passwords per room, whatever the address", () => {
  const limiter = new RateLimiter();
  // 40 addresses, two tries each, at one room: the room's 20 go, then the room is shut.
  const verdicts = Array.from({ length: 40 }, (_, i) => limiter.connect(`10.0.0.${i}`, 0))
    .flatMap((limits) => [limits.takePasswordTry("room", 0), limits.takePasswordTry("room", 0)]);
  assert.equal(verdicts.filter((v) => v === "ok").length, 20);
  assert.equal(verdicts.filter((v) => v === "room").length, 60);
  // A refusal by the room gives the person's try back: they may try elsewhere.
  const late = limiter.connect("10.0.1.1", 0);
  for (let i = 0; i < 5; i++) assert.equal(late.takePasswordTry("room", 0), "room");
  assert.equal(late.takePasswordTry("other", 0), "ok", "another room has its own budget");
  // A right password returns the room's try too.
  late.returnPasswordTry("other", 0);
  assert.equal(late.takePasswordTry("room", 30_000), "ok", "one try refills every 30 s");
});

Deno.test("RateLimiter groups IPv6 addresses by /64 and mapped IPv4 as IPv4", () => {
  assert.equal(addressGroup("2001:db8:1:2::5"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("2001:0db8:0001:0002:ffff:0:0:9"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("[2001:db8:1:3::5]"), "2001:db8:1:3::/64");
  assert.equal(addressGroup("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressGroup("192.0.2.7"), "192.0.2.7");
  assert.equal(addressGroup("::1"), "0:0:0:0::/64");
  assert.equal(addressGroup("not:an:address::x"), "not:an:address::x", "unparsable: as it is");
  assert.equal(addressGroup(addressGroup("2001:db8::1")), "2001:db8:0:0::/64", "idempotent");
  // One /64 shares one join budget however many addresses it uses.
  const limiter = new RateLimiter({ joinBurst: 1, joinsPerMinute: 1 });
  const joins = Array.from(
    { length: 30 },
    (_, i) => limiter.connect(`2001:db8:1:2::${(i + 1).toString(16)}`, 0).takeJoin(0),
  ).filter(Boolean);
  assert.equal(joins.length, 10, "ten connections' budget for the whole /64");
  assert.equal(limiter.connect("2001:db8:1:3::1", 0).takeJoin(0), true, "the next /64 has its own");
});

Deno.test("RateLimiter spends hashes and setPasswords per connection and per address", () => {
  const limiter = new RateLimiter({ hashesPerMinute: 2, setPasswordsPerMinute: 1 });
  const a = limiter.connect("198.51.100.7", 0);
  assert.deepEqual([0, 0, 0].map((now) => a.takeHash(now)), [true, true, false]);
  assert.equal(a.takeHash(30_000), true, "refills at two a minute");
  assert.deepEqual([0, 0].map((now) => a.takeSetPassword(now)), [true, false]);
  const hashes = Array.from({ length: 15 }, () => limiter.connect("198.51.100.7", 0))
    .flatMap((limits) => [limits.takeHash(30_000), limits.takeHash(30_000)])
    .filter(Boolean).length;
  // The address holds 20 (ten connections' worth), refilling at 20 a minute: full again by
  // 30 s after the first two, less the one taken then.
  assert.equal(hashes, 19);
});

Deno.test("RateLimiter caps an address's knocks on one room and makes the denied wait", () => {
  const limiter = new RateLimiter({ knocksPerRoom: 3, deniedWaitMs: 60_000 });
  const knock = (address: string, room: string, peerId: string, browser?: string, now = 0) =>
    limiter.connect(address, 0).takeKnock(room, { peerId, browser }, now);
  assert.deepEqual(
    [1, 2, 3, 4].map((i) => knock("198.51.100.7", "room", `p${i}`)),
    [true, true, true, false],
  );
  assert.equal(knock("198.51.100.7", "other", "p5"), true, "another room");
  assert.equal(knock("192.0.2.1", "room", "p6"), true, "another address");
  // Denied: that person, that address and that browser wait a minute.
  const limits = limiter.connect("203.0.113.9", 0);
  assert.equal(limits.takeKnock("room", { peerId: "kim", browser: "b1" }, 0), true);
  limiter.denied("room", { peerId: "kim", address: "203.0.113.9", browser: "b1" }, 0);
  assert.equal(limits.takeKnock("room", { peerId: "kim" }, 1000), false, "the person");
  assert.equal(knock("203.0.113.9", "room", "kim2", undefined, 1000), false, "the address");
  assert.equal(knock("192.0.2.50", "room", "kim3", "b1", 1000), false, "the browser");
  assert.equal(knock("192.0.2.51", "room", "kim4", "b2", 1000), true, "anyone else");
  assert.equal(knock("203.0.113.9", "room", "kim5", "b1", 60_000), true, "after the wait");
});

Deno.test("RateLimiter waits for a shared budget that answers later, and gives back on refusal", async () => {
  // A store that answers asynchronously, as Redis does, refusing the address's second join.
  const local = new LocalBudgets();
  const budgets: BudgetStore = {
    take: (budget, key, now) => Promise.resolve(local.take(budget, key, now)),
    giveBack: (budget, key) => local.giveBack(budget, key),
    drain: (budget, key, now) => local.drain(budget, key, now),
    peek: (budget, key, now) => Promise.resolve(local.peek(budget, key, now)),
    sweep: (now) => local.sweep(now),
  };
  const limiter = new RateLimiter({ joinBurst: 2, joinsPerMinute: 1, budgets });
  const tries = Array.from({ length: 25 }, () => limiter.connect("198.51.100.7", 0).takeJoin(0));
  assert.ok(tries.every((t) => t instanceof Promise), "a shared count answers later");
  assert.equal((await Promise.all(tries)).filter(Boolean).length, 20);
  const mine = limiter.connect("192.0.2.1", 0);
  assert.deepEqual(await Promise.all([mine.takeJoin(0), mine.takeJoin(0), mine.takeJoin(0)]), [
    true,
    true,
    false,
  ]);
});
