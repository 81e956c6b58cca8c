import assert from "node:assert/strict";
import { Resume, type ResumeOptions } from "../lib/resume.ts";
import { TokenSigner } from "../lib/token.ts";
import { SECRET } from "./_helpers.ts";

const T0 = 1_700_000_000_000;

function resume(options: ResumeOptions = {}) {
  return new Resume({
    tokens: new TokenSigner(SECRET),
    resumeWindowMs: 25_000,
    tokenTtlMs: 120_000,
    ...options,
  });
}

Deno.test("Resume issues a token that claims its identity until it expires", () => {
  const keeper = resume();
  const token = keeper.issue("p1", T0);
  assert.deepEqual(keeper.claim(token, { now: T0, current: "p9" }), { ok: true, peerId: "p1" });
  assert.deepEqual(keeper.claim(token, { now: T0 + 120_000, current: "p9" }), {
    ok: false,
    why: "the token has expired",
  });
  assert.deepEqual(keeper.claim("garbage", { now: T0, current: "p9" }), {
    ok: false,
    why: "the token is not valid",
  });
});

Deno.test("Resume refuses a token for the connection's own identity", () => {
  const keeper = resume();
  const token = keeper.issue("p1", T0);
  assert.equal(keeper.claim(token, { now: T0, current: "p1" }).ok, false);
  assert.equal(keeper.claim(token, { now: T0, current: "p2" }).ok, true);
});

Deno.test("Resume lets the newest token supersede older ones, and accepts any after a restart", () => {
  const keeper = resume();
  const old = keeper.issue("p1", T0);
  const newer = keeper.issue("p1", T0 + 60_000);
  assert.deepEqual(keeper.claim(old, { now: T0 + 60_000, current: "p9" }), {
    ok: false,
    why: "the token was superseded by a newer one",
  });
  assert.equal(keeper.claim(newer, { now: T0 + 60_000, current: "p9" }).ok, true);
  // A restarted hub with the same secret never issued either: both verify.
  const restarted = resume();
  assert.equal(restarted.claim(old, { now: T0 + 60_000, current: "p9" }).ok, true);
});

Deno.test("Resume refuses a retired identity until its tokens would have expired", () => {
  const keeper = resume();
  const token = keeper.issue("p1", T0);
  const version = keeper.retiredVersion;
  keeper.retire("p1", T0);
  assert.equal(keeper.retiredVersion, version + 1);
  assert.equal(keeper.isRetired("p1"), true);
  assert.deepEqual(keeper.retiredEntries(), [["p1", T0 + 120_000]]);
  assert.deepEqual(keeper.claim(token, { now: T0, current: "p9" }), {
    ok: false,
    why: "that peer has left",
  });
  keeper.sweep(T0 + 119_999);
  assert.equal(keeper.isRetired("p1"), true);
  keeper.sweep(T0 + 120_000);
  assert.equal(keeper.isRetired("p1"), false);
  assert.equal(keeper.retiredVersion, version + 2);
});

Deno.test("Resume starts with the retired ids it is given (loaded from disk)", () => {
  const keeper = resume({ retired: [["gone", T0 + 1000]] });
  const token = new TokenSigner(SECRET).sign({ peerId: "gone", expiresAt: T0 + 60_000 });
  assert.equal(keeper.claim(token, { now: T0, current: "p9" }).ok, false);
  // Positive control: a token for an id that did not leave is accepted.
  const stays = new TokenSigner(SECRET).sign({ peerId: "stays", expiresAt: T0 + 60_000 });
  assert.equal(keeper.claim(stays, { now: T0, current: "p9" }).ok, true);
});

Deno.test("Resume forgets a given-up identity without retiring it", () => {
  const keeper = resume();
  const old = keeper.issue("p1", T0);
  keeper.issue("p1", T0 + 60_000);
  keeper.forget("p1");
  assert.equal(keeper.isRetired("p1"), false);
  assert.equal(
    keeper.claim(old, { now: T0 + 60_000, current: "p9" }).ok,
    true,
    "no newest token remembered",
  );
});

Deno.test("Resume refreshes a token at half-life", () => {
  const keeper = resume();
  keeper.issue("p1", T0);
  assert.equal(keeper.refreshDue("p1", T0 + 59_999), false);
  assert.equal(keeper.refreshDue("p1", T0 + 60_000), true);
  keeper.issue("p1", T0 + 60_000);
  assert.equal(keeper.refreshDue("p1", T0 + 60_000), false);
});

Deno.test("Resume holds an away peer's frames, bounded, and hands them back in order", () => {
  const lines: string[] = [];
  const keeper = resume({
    maxHeldMessages: 3,
    maxHeldBytes: 10,
    logger: { enabled: () => true, log: (level, message) => lines.push(`${level} ${message}`) },
  });
  keeper.hold("p1", "lost");
  assert.equal(keeper.comeBack("p1"), undefined, "not away: nothing held");
  assert.equal(keeper.goAway("p1", T0), true);
  assert.equal(keeper.isAway("p1"), true);
  assert.equal(keeper.awayCount, 1);
  for (const text of ["a", "bb", "ccc", "dddd", "e"]) keeper.hold("p1", text);
  assert.deepEqual(lines, ["warn dropping frames for an away peer (hold full)"], "warned once");
  assert.deepEqual(keeper.comeBack("p1"), ["a", "bb", "ccc"], "three frames at most");
  assert.equal(keeper.isAway("p1"), false);
  // A new spell holds afresh and warns afresh.
  keeper.goAway("p1", T0);
  for (const text of ["1234567890", "x"]) keeper.hold("p1", text);
  assert.deepEqual(keeper.comeBack("p1"), ["1234567890"], "ten bytes at most");
  assert.equal(lines.length, 2);
});

Deno.test("Resume reports the window passing and caps the peers held away", () => {
  const lines: string[] = [];
  const keeper = resume({
    maxAwayPeers: 1,
    logger: { enabled: () => true, log: (level, message) => lines.push(`${level} ${message}`) },
  });
  assert.equal(keeper.goAway("p1", T0), true);
  assert.equal(keeper.goAway("p2", T0), false, "one away at most");
  assert.deepEqual(lines, ["warn too many away peers; removing at once"]);
  assert.equal(keeper.windowPassed("p1", T0 + 24_999), false);
  assert.equal(keeper.windowPassed("p1", T0 + 25_000), true);
  assert.equal(keeper.windowPassed("p2", T0 + 25_000), false, "never away");
  keeper.retire("p1", T0);
  assert.equal(keeper.awayCount, 0);
  assert.equal(keeper.goAway("p2", T0), true, "room again");
});

Deno.test("Resume without a signer holds nobody, issues nothing and refuses every token", () => {
  const keeper = new Resume();
  assert.equal(keeper.enabled, false);
  assert.equal(keeper.goAway("p1", T0), false);
  assert.equal(keeper.refreshDue("p1", T0), false);
  assert.throws(() => keeper.issue("p1", T0), TypeError);
  const token = new TokenSigner(SECRET).sign({ peerId: "p1", expiresAt: T0 + 1000 });
  assert.deepEqual(keeper.claim(token, { now: T0, current: "p2" }), {
    ok: false,
    why: "this server does not support resuming",
  });
  keeper.retire("p1", T0);
  assert.equal(keeper.isRetired("p1"), false, "nothing to refuse: no tokens exist");
  assert.equal(keeper.windowSeconds, 25, "the default window");
});

Deno.test("Resume keeps what it held when a peer goes away again before it was back", () => {
  const resume = new Resume({ tokens: new TokenSigner(SECRET), resumeWindowMs: 1000 });
  resume.goAway("a", 0);
  resume.hold("a", "one");
  // A resume whose socket closed before it applied: away again, a new window.
  assert.equal(resume.goAway("a", 900), true);
  resume.hold("a", "two");
  assert.equal(resume.windowPassed("a", 1000), false, "the window starts again");
  assert.equal(resume.windowPassed("a", 1900), true);
  assert.deepEqual(resume.comeBack("a"), ["one", "two"], "nothing held before is lost");
});
