import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { Hmac, sha256 } from "../lib/_hmac.ts";

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17 + 7) & 255);
}

Deno.test("sha256 matches node:crypto across block boundaries", () => {
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300]) {
    const message = bytes(length, length);
    assert.equal(
      Buffer.from(sha256(message)).toString("hex"),
      createHash("sha256").update(message).digest("hex"),
      `length ${length}`,
    );
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
