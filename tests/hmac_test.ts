import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { Hmac, hmacSha1, sha1, sha256 } from "../lib/_hmac.ts";

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17 + 7) & 255);
}

/** Lengths around the 55/56/64-byte padding edges, and a few blocks. */
const LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300];

Deno.test("sha256 and sha1 match node:crypto across block boundaries", () => {
  for (const [name, hash] of [["sha256", sha256], ["sha1", sha1]] as const) {
    for (const length of LENGTHS) {
      const message = bytes(length, length);
      assert.equal(
        Buffer.from(hash(message)).toString("hex"),
        createHash(name).update(message).digest("hex"),
        `${name}, length ${length}`,
      );
    }
  }
  // The FIPS 180-2 example.
  assert.equal(
    Buffer.from(sha256(new TextEncoder().encode("abc"))).toString("hex"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("Hmac matches node:crypto for short, block-sized and long keys", () => {
  for (const keyLength of [16, 32, 64, 65, 100]) {
    const key = bytes(keyLength, 3);
    const hmac = new Hmac(key);
    for (const length of [0, 10, 55, 56, 64, 80, 200]) {
      const message = bytes(length, keyLength);
      assert.equal(
        Buffer.from(hmac.digest(message)).toString("hex"),
        createHmac("sha256", key).update(message).digest("hex"),
        `key ${keyLength}, message ${length}`,
      );
    }
  }
  // RFC 4231 test case 2.
  const rfc = new Hmac(new TextEncoder().encode("Jefe"));
  assert.equal(
    Buffer.from(rfc.digest(new TextEncoder().encode("what do ya want for nothing?"))).toString(
      "hex",
    ),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});

Deno.test("hmacSha1 matches node:crypto across block boundaries and key sizes", () => {
  for (const length of LENGTHS) {
    const message = bytes(length, length);
    for (const keyLength of [0, 5, 20, 64, 65, 100]) {
      const key = bytes(keyLength, 5);
      assert.equal(
        Buffer.from(hmacSha1(key, message)).toString("hex"),
        createHmac("sha1", key).update(message).digest("hex"),
        `key ${keyLength}, message ${length}`,
      );
    }
  }
  // FIPS 180-1's example and RFC 2202 test cases 2 and 6.
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(
    Buffer.from(sha1(text("abc"))).toString("hex"),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
  assert.equal(
    Buffer.from(hmacSha1(text("Jefe"), text("what do ya want for nothing?"))).toString("hex"),
    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
  );
  assert.equal(
    Buffer.from(
      hmacSha1(
        new Uint8Array(80).fill(0xaa),
        text("Test Using Larger Than Block-Size Key - Hash Key First"),
      ),
    ).toString("hex"),
    "aa4ae5e15272d00e95705637ce8a3b55ed402112",
  );
});
