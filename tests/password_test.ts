import assert from "node:assert/strict";
import { hashPassword, parsePasswordRecord, verifyPassword } from "../lib/password.ts";

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
