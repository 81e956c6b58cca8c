import assert from "node:assert/strict";
import { hashPassword, HashQueue, parsePasswordRecord, verifyPassword } from "../lib/password.ts";

Deno.test("hashPassword salts each hash and verifyPassword accepts only the password", async () => {
  const one = await hashPassword("open sesame");
  const two = await hashPassword("open sesame");
  assert.equal(one.iterations >= 100_000, true);
  assert.notEqual(one.salt, two.salt, "a random salt each time");
  assert.notEqual(one.hash, two.hash);
  assert.equal(atob(one.salt).length, 16);
  assert.equal(await verifyPassword("open sesame", one), true);
  assert.equal(await verifyPassword("open sesame", two), true);
  assert.equal(await verifyPassword("open sesame!", one), false);
  assert.equal(await verifyPassword("", one), false);
  assert.equal(JSON.stringify(one).includes("sesame"), false);
});

Deno.test("verifyPassword refuses a corrupt record instead of throwing", async () => {
  const record = await hashPassword("pw");
  assert.equal(await verifyPassword("pw", { ...record, hash: "%%%" }), false);
  assert.equal(await verifyPassword("pw", { ...record, hash: btoa("short") }), false);
});

Deno.test("parsePasswordRecord rebuilds a saved record and refuses anything else", () => {
  const record = { salt: "c2FsdA==", hash: "aGFzaA==", iterations: 100_000 };
  assert.deepEqual(parsePasswordRecord({ ...record, extra: 1 }), record);
  for (const bad of [null, "x", { ...record, iterations: 0 }, { ...record, salt: 5 }]) {
    assert.equal(parsePasswordRecord(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("HashQueue runs `concurrency` hashes at once, queues a few and refuses the rest", async () => {
  const queue = new HashQueue({ concurrency: 1, maxQueued: 3, iterations: 1000 });
  const calls = Array.from({ length: 20 }, (_, i) => queue.hash(`pw${i}`));
  const taken = calls.filter((c) => c !== undefined);
  assert.equal(taken.length, 4, "one running and three waiting");
  assert.equal(queue.pending, 4);
  const records = await Promise.all(taken);
  assert.equal(queue.pending, 0, "every slot came back");
  assert.deepEqual(records.map((r) => r.iterations), [1000, 1000, 1000, 1000]);
  // Positive control: once the queue drained, it takes work again, verifies included.
  const check = queue.verify("pw0", records[0]);
  assert.ok(check !== undefined);
  assert.equal(await check, true);
  assert.equal(await queue.verify("wrong", records[0]), false);
});

Deno.test("HashQueue hands slots on in the order the hashes came", async () => {
  const queue = new HashQueue({ concurrency: 1, maxQueued: 10, iterations: 2000 });
  const order: number[] = [];
  const work = Array.from({ length: 6 }, (_, i) => queue.hash(`pw${i}`)!.then(() => order.push(i)));
  await Promise.all(work);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

Deno.test("HashQueue gives one group at most maxPerGroup places, and others theirs", async () => {
  const queue = new HashQueue({ concurrency: 1, maxQueued: 8, maxPerGroup: 2, iterations: 1000 });
  const mine = [1, 2, 3].map((i) => queue.hash(`pw${i}`, "2001:db8:1::/48"));
  assert.deepEqual(mine.map((w) => w !== undefined), [true, true, false]);
  const theirs = queue.hash("pw", "192.0.2.1");
  assert.ok(theirs !== undefined, "another group still gets a place");
  await Promise.all([...mine, theirs]);
  assert.ok(queue.hash("again", "2001:db8:1::/48") !== undefined, "places come back");
});
