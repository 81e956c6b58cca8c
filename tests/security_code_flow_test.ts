/**
 * Two browsers meeting several times: the exchange, pinned codes and the
 * verified store together, as the call will use them. A relay in the
 * middle is played by the test with certificates of its own.
 */

import assert from "node:assert/strict";
import { codeAfterExchange, PinnedCodes } from "../client/pinned_codes.ts";
import { SasExchange, type SasResult } from "../client/sas_exchange.ts";
import { VerifiedStore } from "../client/verified_store.ts";
import { FakeTextStorage } from "./_fake_storage.ts";
import { until } from "./_wait.ts";

let nextByte = 0;

/** A fingerprint nobody else has. */
function newFingerprint(): string {
  const byte = (++nextByte).toString(16).padStart(2, "0").toUpperCase();
  return `sha-256 ${`${byte}:`.repeat(31)}${byte}`;
}

class Browser {
  readonly storage = new FakeTextStorage();
  fingerprint = newFingerprint();
  constructor(readonly id: string) {}
  /** A reload: what is in storage stays. */
  get pins() {
    return new PinnedCodes(this.storage);
  }
  get verified() {
    return new VerifiedStore(this.storage);
  }
}

/** One side of one connection: what it holds as local and remote fingerprint. */
interface End {
  browser: Browser;
  local: string;
  remote: string;
  initiator: boolean;
}

/** Runs the exchange between two ends joined by an in-order channel; the code each shows. */
async function connect(a: End, b: End): Promise<[string | null, string | null]> {
  const results: (SasResult | undefined)[] = [undefined, undefined];
  const ends: SasExchange[] = [];
  [a, b].forEach((end, i) => {
    const pinned = end.browser.pins.get([end.local], [end.remote])?.code ?? null;
    ends[i] = new SasExchange({
      initiator: end.initiator,
      pinned,
      send: (data) => setTimeout(() => ends[1 - i].receive(data), 0),
      done: (result) => results[i] = result,
    });
  });
  await until(() => results.every((r) => r !== undefined), "both exchanges done");
  return await Promise.all([a, b].map(async (end, i) => {
    const context = { local: [end.local], remote: [end.remote], pins: end.browser.pins };
    return (await codeAfterExchange(results[i]!, context))?.code ?? null;
  })) as [string | null, string | null];
}

/** Alice and Bob directly. */
function direct(alice: Browser, bob: Browser) {
  return connect(
    { browser: alice, local: alice.fingerprint, remote: bob.fingerprint, initiator: true },
    { browser: bob, local: bob.fingerprint, remote: alice.fingerprint, initiator: false },
  );
}

/** Alice and Bob through a relay answering each as the other, with its own certificates. */
async function relayed(alice: Browser, bob: Browser): Promise<[string | null, string | null]> {
  const mallory = new Browser("mallory");
  const [asBob, asAlice] = [newFingerprint(), newFingerprint()];
  const [aliceCode] = await connect(
    { browser: alice, local: alice.fingerprint, remote: asBob, initiator: true },
    { browser: mallory, local: asBob, remote: alice.fingerprint, initiator: false },
  );
  const [, bobCode] = await connect(
    { browser: mallory, local: asAlice, remote: bob.fingerprint, initiator: true },
    { browser: bob, local: bob.fingerprint, remote: asAlice, initiator: false },
  );
  return [aliceCode, bobCode];
}

Deno.test("Security codes: the same code in every meeting, 'changed' after a relay or a new certificate", async () => {
  const alice = new Browser("alice");
  const bob = new Browser("bob");

  const [first, bobFirst] = await direct(alice, bob);
  assert.ok(first !== null);
  assert.equal(bobFirst, first, "both see the same code");
  alice.verified.verify(bob.id, first);
  bob.verified.verify(alice.id, first);

  // Another meeting (and reloads): fresh values, the same code, still verified.
  const [second, bobSecond] = await direct(alice, bob);
  assert.deepEqual([second, bobSecond], [first, first]);
  assert.equal(alice.verified.status(bob.id, first), "verified");
  assert.equal(bob.verified.status(alice.id, first), "verified");

  // A relay in the middle: two codes that differ, both "changed".
  const [aliceSees, bobSees] = await relayed(alice, bob);
  assert.ok(aliceSees !== null && bobSees !== null);
  assert.notEqual(aliceSees, bobSees);
  assert.equal(alice.verified.status(bob.id, aliceSees), "changed");
  assert.equal(bob.verified.status(alice.id, bobSees), "changed");

  // The relay gone, the direct code is back and verified.
  assert.deepEqual(await direct(alice, bob), [first, first]);
  assert.equal(alice.verified.status(bob.id, first), "verified");

  // Bob's certificate renewed: a new code both agree on, "changed" until verified again.
  bob.fingerprint = newFingerprint();
  const [renewed, bobRenewed] = await direct(alice, bob);
  assert.ok(renewed !== null);
  assert.equal(bobRenewed, renewed);
  assert.notEqual(renewed, first);
  assert.equal(alice.verified.status(bob.id, renewed), "changed");
  alice.verified.verify(bob.id, renewed);
  assert.equal(alice.verified.status(bob.id, renewed), "verified");
});

Deno.test("Security codes: a relay met before still shows two different codes, pinned or not", async () => {
  const alice = new Browser("alice");
  const bob = new Browser("bob");
  const mallory = new Browser("mallory");
  const [asBob, asAlice] = [newFingerprint(), newFingerprint()];
  const meeting = async () => {
    const [aliceCode] = await connect(
      { browser: alice, local: alice.fingerprint, remote: asBob, initiator: true },
      { browser: mallory, local: asBob, remote: alice.fingerprint, initiator: false },
    );
    const [, bobCode] = await connect(
      { browser: mallory, local: asAlice, remote: bob.fingerprint, initiator: true },
      { browser: bob, local: bob.fingerprint, remote: asAlice, initiator: false },
    );
    return [aliceCode, bobCode];
  };
  const [aliceFirst, bobFirst] = await meeting();
  assert.notEqual(aliceFirst, bobFirst);
  // The same relay with the same certificates next time: each side's pin comes back.
  assert.deepEqual(await meeting(), [aliceFirst, bobFirst]);
  // Control: without the relay the two agree.
  const [a, b] = await direct(alice, bob);
  assert.equal(a, b);
});
