import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  encodeSasMessage,
  isSasMessage,
  parseSasMessage,
  SAS_FAILURE,
  SasExchange,
  type SasExchangeOptions,
  type SasMessage,
  type SasResult,
} from "../client/sas_exchange.ts";
import { until } from "./_wait.ts";

/** A value of 32 bytes, all `byte`. */
function value(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** SHA-256 of a hex value, computed apart from the module. */
function hashOf(hexValue: string): string {
  return createHash("sha256").update(Buffer.from(hexValue, "hex")).digest("hex");
}

function pinOf(code: string): string {
  return createHash("sha256").update(`mesh-security-pin-v1\n${code}\n`).digest("hex");
}

/** Random values from a list, one per round. */
function values(...bytes: number[]): () => Uint8Array {
  let next = 0;
  return () => value(bytes[next++ % bytes.length]);
}

/** One exchange talking to the test, which plays the other side. */
function lone(initiator: boolean, options: Partial<SasExchangeOptions> = {}) {
  const sent: SasMessage[] = [];
  const results: SasResult[] = [];
  let draws = 0;
  const random = options.random ?? values(0x11);
  const exchange = new SasExchange({
    initiator,
    send: (data) => sent.push(parseSasMessage(data)!),
    done: (result) => results.push(result),
    ...options,
    random: () => (draws++, random()),
  });
  return { exchange, sent, results, draws: () => draws };
}

/** Two exchanges joined by an in-order channel, with an optional filter on each direction. */
function pair(
  { alice = {}, bob = {} }: {
    alice?: Partial<SasExchangeOptions>;
    bob?: Partial<SasExchangeOptions>;
  } = {},
) {
  const log: string[] = [];
  let delivered = 0;
  const results = { alice: [] as SasResult[], bob: [] as SasResult[] };
  const ends: { alice?: SasExchange; bob?: SasExchange } = {};
  const wire = (to: "alice" | "bob") => (data: string) => {
    log.push(data);
    setTimeout(() => {
      delivered++;
      ends[to]!.receive(data);
    }, 0);
  };
  ends.alice = new SasExchange({
    initiator: true,
    send: wire("bob"),
    random: values(0xa1, 0xa2, 0xa3),
    done: (result) => results.alice.push(result),
    ...alice,
  });
  ends.bob = new SasExchange({
    initiator: false,
    send: wire("alice"),
    random: values(0xb1, 0xb2, 0xb3),
    done: (result) => results.bob.push(result),
    ...bob,
  });
  return { alice: ends.alice, bob: ends.bob, log, results, delivered: () => delivered };
}

function ok(result: SasResult | undefined) {
  assert.ok(result?.ok, `expected success, got ${JSON.stringify(result)}`);
  return result;
}

function failed(results: SasResult[]) {
  assert.deepEqual(results, [{ ok: false, reason: SAS_FAILURE }]);
  assert.equal(SAS_FAILURE, "Could not verify this connection");
}

Deno.test("SasExchange: commit, value, reveal; both sides end with each other's value", async () => {
  for (const aliceOffers of [true, false]) {
    const { log, results } = pair({
      alice: { initiator: aliceOffers },
      bob: { initiator: !aliceOffers },
    });
    await until(() => results.alice.length + results.bob.length === 2, "both results");
    const alice = ok(results.alice[0]);
    const bob = ok(results.bob[0]);
    assert.deepEqual(alice.localValue, value(0xa1));
    assert.deepEqual(alice.remoteValue, value(0xb1));
    assert.deepEqual(bob.localValue, value(0xb1));
    assert.deepEqual(bob.remoteValue, value(0xa1));
    assert.equal(alice.pinned || bob.pinned, false);
    const [commit, answer, reveal] = log.map((data) => parseSasMessage(data)!);
    assert.equal(log.length, 3);
    const first = hex(value(aliceOffers ? 0xa1 : 0xb1));
    const second = hex(value(aliceOffers ? 0xb1 : 0xa1));
    assert.deepEqual(commit, { type: "sas-commit", hash: hashOf(first), pin: null });
    assert.deepEqual(answer, { type: "sas-value", hash: hashOf(first), value: second, pin: null });
    assert.deepEqual(reveal, { type: "sas-reveal", value: first });
  }
});

Deno.test("SasExchange: the responder sends nothing until it has the commitment", async () => {
  const bob = lone(false);
  await bob.exchange.idle();
  assert.equal(bob.draws(), 1, "the responder has started");
  assert.deepEqual(bob.sent, []);
  const commit = hashOf(hex(value(0xa1)));
  assert.ok(
    bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: commit, pin: null })),
  );
  await until(() => bob.sent.length === 1, "the value answering the commitment");
  assert.deepEqual(bob.sent[0], {
    type: "sas-value",
    hash: commit,
    value: hex(value(0x11)),
    pin: null,
  });
  assert.deepEqual(bob.results, []);
});

Deno.test("SasExchange: a reveal that does not match the commitment fails with no code", async () => {
  const bob = lone(false);
  const committed = hex(value(0xa1));
  bob.exchange.receive(
    encodeSasMessage({ type: "sas-commit", hash: hashOf(committed), pin: null }),
  );
  await until(() => bob.sent.length === 1, "the responder's value");
  // Having seen Bob's value, a relay would like to choose its own.
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: hex(value(0xa2)) }));
  await until(() => bob.results.length === 1, "a result");
  failed(bob.results);
  // The committed value, revealed now, is too late: the outcome stands.
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: committed }));
  await bob.exchange.idle();
  failed(bob.results);
  // Control: the same reveal, in time, succeeds.
  const control = lone(false);
  control.exchange.receive(
    encodeSasMessage({ type: "sas-commit", hash: hashOf(committed), pin: null }),
  );
  control.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: committed }));
  await control.exchange.idle();
  assert.deepEqual(ok(control.results[0]).remoteValue, value(0xa1));
});

Deno.test("SasExchange: a value or reveal before the commitment fails", async () => {
  // To the responder: the initiator's value in clear, with no commitment before it.
  const bob = lone(false);
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: hex(value(0xa1)) }));
  await until(() => bob.results.length === 1, "the responder's result");
  failed(bob.results);
  assert.deepEqual(bob.sent, [], "no value went out");
  // To the initiator: an answer that cannot name its commitment (sent before it arrived).
  const alice = lone(true);
  await until(() => alice.sent.length === 1, "the commitment");
  const guess = hashOf(hex(value(0x99)));
  alice.exchange.receive(
    encodeSasMessage({ type: "sas-value", hash: guess, value: hex(value(0xb1)), pin: null }),
  );
  await until(() => alice.results.length === 1, "the initiator's result");
  failed(alice.results);
  assert.equal(alice.sent.length, 1, "no reveal went out");
  // Control: the same answer naming the real commitment succeeds.
  const control = lone(true);
  await until(() => control.sent.length === 1, "the control's commitment");
  const hash = (control.sent[0] as { hash: string }).hash;
  control.exchange.receive(
    encodeSasMessage({ type: "sas-value", hash, value: hex(value(0xb1)), pin: null }),
  );
  await until(() => control.results.length === 1, "the control's result");
  ok(control.results[0]);
  assert.deepEqual(control.sent[1], { type: "sas-reveal", value: hex(value(0x11)) });
});

Deno.test("SasExchange: a second commitment fails, the same or another", async () => {
  for (const second of [0xa1, 0xa2]) {
    const bob = lone(false);
    const first = hashOf(hex(value(0xa1)));
    bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: first, pin: null }));
    await until(() => bob.sent.length === 1, "the value");
    const again = hashOf(hex(value(second)));
    bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: again, pin: null }));
    await until(() => bob.results.length === 1, "a result");
    failed(bob.results);
    assert.equal(bob.sent.length, 1, "one value only");
    // The real reveal after it changes nothing.
    bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: hex(value(0xa1)) }));
    await bob.exchange.idle();
    failed(bob.results);
  }
});

Deno.test("SasExchange: a message meant for the other role fails", async () => {
  const alice = lone(true);
  await until(() => alice.sent.length === 1, "the commitment");
  alice.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: hashOf("00"), pin: null }));
  await until(() => alice.results.length === 1, "the initiator's result");
  failed(alice.results);
  const bob = lone(false);
  bob.exchange.receive(
    encodeSasMessage({ type: "sas-value", hash: hashOf("00"), value: hex(value(1)), pin: null }),
  );
  await until(() => bob.results.length === 1, "the responder's result");
  failed(bob.results);
});

Deno.test("SasExchange: a malformed exchange message fails; other messages pass through", async () => {
  const good = hex(value(0xa1));
  for (
    const bad of [
      '{"type":"sas-commit"}',
      `{"type":"sas-commit","hash":"${good.toUpperCase()}"}`,
      `{"type":"sas-commit","hash":"${good.slice(2)}"}`,
      `{"type":"sas-commit","hash":"${good}00"}`,
      `{"type":"sas-commit","hash":"${good}","pin":"x"}`,
      `{"type":"sas-commit","hash":"${good}","pin":5}`,
      `{"type":"sas-reveal","value":"${good.replace("a", "g")}"}`,
      `{"type":"sas-reveal","value":${JSON.stringify(Array.from(value(1)))}}`,
      `{"type":"sas-reveal","value":"${good}","padding":"${"x".repeat(500)}"}`,
    ]
  ) {
    const bob = lone(false);
    assert.equal(bob.exchange.receive(bad), true, bad);
    await until(() => bob.results.length === 1, `the result of ${bad}`);
    failed(bob.results);
  }
  // Chat, state and junk are not the exchange's: it goes on and completes.
  const bob = lone(false);
  for (const other of ['{"type":"chat","text":"hi"}', "[]", "null", "sas-commit", '{"type":5}']) {
    assert.equal(bob.exchange.receive(other), false, other);
  }
  bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: hashOf(good), pin: null }));
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: good }));
  await until(() => bob.results.length === 1, "the result");
  ok(bob.results[0]);
});

Deno.test("parseSasMessage rebuilds the three messages and drops unknown keys", () => {
  const h = "ab".repeat(32);
  assert.deepEqual(parseSasMessage(`{"type":"sas-commit","hash":"${h}","x":1}`), {
    type: "sas-commit",
    hash: h,
    pin: null,
  });
  assert.deepEqual(
    parseSasMessage(`{"type":"sas-value","hash":"${h}","value":"${h}","pin":"${h}"}`),
    {
      type: "sas-value",
      hash: h,
      value: h,
      pin: h,
    },
  );
  assert.deepEqual(parseSasMessage(`{"type":"sas-reveal","value":"${h}","pin":null}`), {
    type: "sas-reveal",
    value: h,
  });
  for (
    const bad of [5, "", "{", `{"type":"sas-value","hash":"${h}"}`, '{"type":"chat","text":"x"}']
  ) {
    assert.equal(parseSasMessage(bad), undefined, String(bad));
  }
  assert.equal(isSasMessage(`{"type":"sas-value"}`), true);
  assert.equal(isSasMessage(`{"type":"sas-other"}`), false);
});

Deno.test("SasExchange: matching pins make the result pinned, anything else does not", async () => {
  const cases = [
    { a: "123451234512345", b: "123451234512345", pinned: true },
    { a: "123451234512345", b: "543215432154321", pinned: false },
    { a: "123451234512345", b: null, pinned: false },
    { a: null, b: null, pinned: false },
  ];
  for (const { a, b, pinned } of cases) {
    const { log, results } = pair({ alice: { pinned: a }, bob: { pinned: b } });
    await until(() => results.alice.length + results.bob.length === 2, "both results");
    assert.equal(ok(results.alice[0]).pinned, pinned, `${a} / ${b}`);
    assert.equal(ok(results.bob[0]).pinned, pinned, `${a} / ${b}`);
    // Each pin goes out as a hash, never the code itself.
    const [commit, answer] = log.map((data) => parseSasMessage(data));
    assert.equal(commit?.type === "sas-commit" && commit.pin, a === null ? null : pinOf(a));
    assert.equal(answer?.type === "sas-value" && answer.pin, b === null ? null : pinOf(b));
    assert.ok(!log.some((data) => /[0-9]{15}/.test(data)));
  }
});

Deno.test("SasExchange: after a restart on both sides, a new round with fresh values", async () => {
  const { alice, bob, results } = pair();
  await until(() => results.alice.length + results.bob.length === 2, "the first round");
  alice.restart();
  bob.restart({ pinned: null });
  await until(() => results.alice.length + results.bob.length === 4, "the second round");
  const [aliceFirst, aliceSecond] = results.alice.map(ok);
  const [bobFirst, bobSecond] = results.bob.map(ok);
  assert.deepEqual([aliceFirst.localValue, bobFirst.localValue], [value(0xa1), value(0xb1)]);
  assert.deepEqual([aliceSecond.localValue, bobSecond.localValue], [value(0xa2), value(0xb2)]);
  assert.deepEqual(bobSecond.remoteValue, value(0xa2));
  assert.deepEqual(aliceSecond.remoteValue, value(0xb2));
});

Deno.test("SasExchange: a responder that restarts later picks up the commitment that came first", async () => {
  const { alice, bob, results, delivered } = pair();
  await until(() => results.alice.length + results.bob.length === 2, "the first round");
  alice.restart();
  await until(() => delivered() === 4, "Alice's new commitment delivered");
  await bob.idle();
  // Bob has not restarted yet: the commitment waits for him, unanswered.
  assert.deepEqual(results.bob.length, 1);
  bob.restart();
  await until(() => results.alice.length + results.bob.length === 4, "the second round");
  assert.deepEqual(ok(results.bob[1]).remoteValue, value(0xa2));
  assert.deepEqual(ok(results.alice[1]).remoteValue, value(0xb2));
});

Deno.test("SasExchange: an initiator restarting mid-round fails that round, then both agree", async () => {
  const bob = lone(false, { random: values(0xb1, 0xb2) });
  const first = hex(value(0xa1));
  const second = hex(value(0xa2));
  bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: hashOf(first), pin: null }));
  // Alice restarted before Bob's answer reached her: a new commitment, the old reveal never comes.
  bob.exchange.receive(encodeSasMessage({ type: "sas-commit", hash: hashOf(second), pin: null }));
  await until(() => bob.results.length === 1, "the abandoned round's result");
  failed(bob.results);
  bob.exchange.restart();
  await until(() => bob.sent.length === 2, "the answer to the held commitment");
  assert.deepEqual(bob.sent[1], {
    type: "sas-value",
    hash: hashOf(second),
    value: hex(value(0xb2)),
    pin: null,
  });
  // A stale reveal of the first round is ignored; the right one completes.
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: first }));
  bob.exchange.receive(encodeSasMessage({ type: "sas-reveal", value: second }));
  await until(() => bob.results.length === 2, "the second round's result");
  assert.deepEqual(ok(bob.results[1]).remoteValue, value(0xa2));
});

Deno.test("SasExchange: an initiator ignores an answer to a commitment it abandoned", async () => {
  const alice = lone(true, { random: values(0xa1, 0xa2) });
  await until(() => alice.sent.length === 1, "the first commitment");
  alice.exchange.restart();
  await until(() => alice.sent.length === 2, "the second commitment");
  const [old, current] = alice.sent.map((m) => (m as { hash: string }).hash);
  alice.exchange.receive(
    encodeSasMessage({ type: "sas-value", hash: old, value: hex(value(0xb1)), pin: null }),
  );
  alice.exchange.receive(
    encodeSasMessage({ type: "sas-value", hash: current, value: hex(value(0xb2)), pin: null }),
  );
  await until(() => alice.results.length === 1, "the result");
  assert.deepEqual(ok(alice.results[0]).remoteValue, value(0xb2));
  assert.equal(alice.sent.length, 3, "one reveal");
});

Deno.test("SasExchange: a random source giving the wrong length fails", async () => {
  const bob = lone(false, { random: () => new Uint8Array(16) });
  await until(() => bob.results.length === 1, "the result");
  failed(bob.results);
});
