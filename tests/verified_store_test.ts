import assert from "node:assert/strict";
import { MAX_VERIFIED, VERIFIED_KEY, VerifiedStore } from "../client/verified_store.ts";
import { FakeTextStorage } from "./_fake_storage.ts";

const CODE = "123451234512345";
const OTHER = "999990000011111";

Deno.test("VerifiedStore: unverified, verified, changed, verified again, removed", () => {
  const store = new VerifiedStore(new FakeTextStorage());
  assert.equal(store.status("bob", CODE), "unverified");
  store.verify("bob", CODE);
  assert.equal(store.status("bob", CODE), "verified");
  // Bob's code is another one now: a new certificate, or someone in the middle.
  assert.equal(store.status("bob", OTHER), "changed");
  assert.equal(store.status("bob", OTHER), "changed", "it stays changed");
  assert.equal(store.status("carol", CODE), "unverified", "only for Bob");
  store.verify("bob", OTHER);
  assert.equal(store.status("bob", OTHER), "verified");
  assert.equal(store.status("bob", CODE), "changed");
  store.unverify("bob");
  assert.equal(store.status("bob", OTHER), "unverified");
  assert.equal(store.status("bob", CODE), "unverified");
});

Deno.test("VerifiedStore: a verification survives a reload and is seen by another tab", () => {
  const storage = new FakeTextStorage();
  const tab = new VerifiedStore(storage);
  const other = new VerifiedStore(storage);
  assert.equal(other.status("bob", CODE), "unverified");
  tab.verify("bob", CODE);
  assert.equal(other.status("bob", CODE), "verified");
  assert.equal(new VerifiedStore(storage).status("bob", OTHER), "changed");
  other.unverify("bob");
  assert.equal(tab.status("bob", CODE), "unverified");
});

Deno.test("VerifiedStore keeps the most recent verifications only", () => {
  const storage = new FakeTextStorage();
  let now = 1000;
  const store = new VerifiedStore(storage, { now: () => now++ });
  for (let i = 0; i <= MAX_VERIFIED; i++) store.verify(`browser-${i}`, CODE);
  assert.equal(MAX_VERIFIED, 500);
  assert.equal(store.status("browser-0", CODE), "unverified", "the oldest forgotten");
  assert.equal(store.status("browser-1", CODE), "verified");
  assert.equal(store.status(`browser-${MAX_VERIFIED}`, CODE), "verified");
  assert.equal(JSON.parse(storage.items.get(VERIFIED_KEY)!).length, MAX_VERIFIED);
  // Verifying again makes an entry recent.
  const small = new VerifiedStore(new FakeTextStorage(), { now: () => now++, limit: 2 });
  small.verify("a", CODE);
  small.verify("b", CODE);
  small.verify("a", OTHER);
  small.verify("c", CODE);
  assert.deepEqual(["a", "b", "c"].map((id) => small.status(id, CODE)), [
    "changed",
    "unverified",
    "verified",
  ]);
});

Deno.test("VerifiedStore reads corrupt or foreign data as unverified and keeps the good entries", () => {
  const storage = new FakeTextStorage();
  const store = new VerifiedStore(storage);
  for (const corrupt of ["{", "null", '{"bob":{"code":"123451234512345"}}', '"x"', "[1,null]"]) {
    storage.items.set(VERIFIED_KEY, corrupt);
    assert.equal(store.status("bob", CODE), "unverified", corrupt);
  }
  storage.items.set(
    VERIFIED_KEY,
    JSON.stringify([
      { id: "bob", at: 1, record: { code: CODE } },
      { id: "carol", at: 2, record: { code: "12345" } },
      { id: "dave", at: "3", record: { code: CODE } },
      { id: 5, at: 4, record: { code: CODE } },
      { id: "erin", at: 5, record: null },
      { id: "frank", at: 6, record: { code: OTHER, extra: true } },
    ]),
  );
  assert.deepEqual(
    ["bob", "carol", "dave", "erin", "frank"].map((id) => store.status(id, CODE)),
    ["verified", "unverified", "unverified", "unverified", "changed"],
  );
  // Writing again keeps only what was good, rebuilt.
  store.verify("gina", CODE);
  assert.deepEqual(JSON.parse(storage.items.get(VERIFIED_KEY)!).map((e: { id: string }) => e.id), [
    "bob",
    "frank",
    "gina",
  ]);
  assert.ok(!storage.items.get(VERIFIED_KEY)!.includes("extra"));
});

Deno.test("VerifiedStore keeps working in memory when storage throws", () => {
  for (const fail of ["failReads", "failWrites"] as const) {
    const storage = new FakeTextStorage();
    const store = new VerifiedStore(storage);
    store.verify("bob", CODE);
    assert.equal(storage.writes, 1, "control: storage written while it works");
    storage[fail] = true;
    store.verify("carol", CODE);
    assert.equal(store.status("carol", CODE), "verified", fail);
    assert.equal(store.status("bob", OTHER), "changed", fail);
    store.unverify("bob");
    assert.equal(store.status("bob", CODE), "unverified", fail);
  }
});

Deno.test("VerifiedStore refuses to verify something that is not a security code", () => {
  const store = new VerifiedStore(new FakeTextStorage());
  assert.throws(() => store.verify("bob", "12345 67890 12345"), TypeError);
  assert.equal(store.status("bob", "12345 67890 12345"), "unverified");
  store.verify("bob", CODE);
  assert.equal(store.status("bob", CODE), "verified");
});
