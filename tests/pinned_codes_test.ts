import assert from "node:assert/strict";
import { codeAfterExchange, PINNED_KEY, PinnedCodes } from "../client/pinned_codes.ts";
import { SAS_FAILURE, type SasResult } from "../client/sas_exchange.ts";
import { securityCode } from "../client/security_code.ts";
import { FakeTextStorage } from "./_fake_storage.ts";

const A = `sha-256 ${"AA:".repeat(31)}AA`;
const B = `sha-256 ${"BB:".repeat(31)}BB`;
const C = `sha-256 ${"CC:".repeat(31)}CC`;

function value(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

function success(local: number, remote: number, pinned: boolean): SasResult {
  return { ok: true, localValue: value(local), remoteValue: value(remote), pinned };
}

Deno.test("PinnedCodes keeps a code per (local, remote) pair, across reloads", () => {
  const storage = new FakeTextStorage();
  const pins = new PinnedCodes(storage);
  const pin = { code: "123451234512345", localValue: value(1), remoteValue: value(2) };
  assert.equal(pins.get([A], [B]), undefined);
  pins.set([A], [B], pin);
  assert.deepEqual(pins.get([A], [B]), pin);
  assert.deepEqual(new PinnedCodes(storage).get([A], [B]), pin);
  assert.equal(pins.get([B], [A]), undefined, "the pair is ordered: ours, theirs");
  assert.equal(pins.get([A], [C]), undefined);
  assert.equal(pins.get([A, C], [B]), undefined);
});

Deno.test("PinnedCodes drops stored entries that are not a code and two values", () => {
  const storage = new FakeTextStorage();
  const pins = new PinnedCodes(storage);
  pins.set([A], [B], { code: "123451234512345", localValue: value(1), remoteValue: value(2) });
  const [entry] = JSON.parse(storage.items.get(PINNED_KEY)!);
  assert.ok(pins.get([A], [B]), "control: the entry as written reads back");
  for (
    const record of [
      { ...entry.record, code: "1234" },
      { ...entry.record, localValue: "01" },
      { ...entry.record, remoteValue: entry.record.remoteValue.toUpperCase() + "0" },
      null,
    ]
  ) {
    storage.items.set(PINNED_KEY, JSON.stringify([{ ...entry, record }]));
    assert.equal(pins.get([A], [B]), undefined, JSON.stringify(record));
  }
});

Deno.test("codeAfterExchange: no code after a failed exchange", async () => {
  const pins = new PinnedCodes(new FakeTextStorage());
  const failed: SasResult = { ok: false, reason: SAS_FAILURE };
  assert.equal(await codeAfterExchange(failed, { local: [A], remote: [B], pins }), null);
  assert.equal(pins.get([A], [B]), undefined);
});

Deno.test("codeAfterExchange pins a new code and shows it again only when both sides announced it", async () => {
  const pins = new PinnedCodes(new FakeTextStorage());
  const context = { local: [A], remote: [B], pins };
  const first = await codeAfterExchange(success(1, 2, false), context);
  const expected = await securityCode({
    local: [A],
    remote: [B],
    localValue: value(1),
    remoteValue: value(2),
  });
  assert.deepEqual(first, { code: expected, localValue: value(1), remoteValue: value(2) });
  assert.deepEqual(pins.get([A], [B]), first);
  // Next meeting: fresh values, but both announced the pin.
  assert.deepEqual(await codeAfterExchange(success(3, 4, true), context), first);
  // The other side had no pin (or another): a new code, pinned from now on.
  const fresh = await codeAfterExchange(success(5, 6, false), context);
  assert.notEqual(fresh?.code, first?.code);
  assert.deepEqual(fresh?.localValue, value(5));
  assert.deepEqual(pins.get([A], [B]), fresh);
  // Another remote certificate has no pin, whatever the exchange says.
  const other = await codeAfterExchange(success(5, 6, true), { ...context, remote: [C] });
  assert.notEqual(other?.code, fresh?.code);
  assert.deepEqual(pins.get([A], [C]), other);
});

Deno.test("codeAfterExchange keeps a pin in use from being forgotten behind newer pairs", async () => {
  let now = 0;
  const pins = new PinnedCodes(new FakeTextStorage(), { now: () => ++now, limit: 2 });
  const used = await codeAfterExchange(success(1, 2, false), { local: [A], remote: [B], pins });
  await codeAfterExchange(success(3, 4, false), { local: [A], remote: [C], pins });
  // The A–B pin is shown again, then a third pair arrives: the unused A–C pin goes first.
  assert.deepEqual(
    await codeAfterExchange(success(5, 6, true), { local: [A], remote: [B], pins }),
    used,
  );
  await codeAfterExchange(success(7, 8, false), { local: [B], remote: [C], pins });
  assert.deepEqual(pins.get([A], [B]), used);
  assert.equal(pins.get([A], [C]), undefined, "control: the limit does forget");
});

Deno.test("codeAfterExchange shows the pin announced at the start of the round, not one pinned since", async () => {
  const pins = new PinnedCodes(new FakeTextStorage());
  const announced = await codeAfterExchange(success(1, 2, false), {
    local: [A],
    remote: [B],
    pins,
  });
  // During the round another exchange (another tab) pinned a different code for the pair.
  const since = { code: "543215432154321", localValue: value(9), remoteValue: value(9) };
  pins.set([A], [B], since);
  assert.deepEqual(
    await codeAfterExchange(success(3, 4, true), {
      local: [A],
      remote: [B],
      pins,
      pinned: announced,
    }),
    announced,
  );
  // Without a pin at the start, a pinned result still gives a new code from the values.
  const fresh = await codeAfterExchange(success(5, 6, true), {
    local: [A],
    remote: [B],
    pins,
    pinned: null,
  });
  assert.notEqual(fresh?.code, since.code);
  assert.deepEqual(fresh?.localValue, value(5));
});
