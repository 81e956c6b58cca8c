import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { TokenSigner } from "../lib/token.ts";
import { SECRET } from "./_helpers.ts";
Deno.test("TokenSigner round-trips claims and rejects tampering", () => {
  const signer = new TokenSigner(SECRET);
  const token = signer.sign({ peerId: "peer-1", expiresAt: 2000 });
  assert.deepEqual(signer.verify(token, 1000), { peerId: "peer-1", expiresAt: 2000 });
  assert.equal(signer.verify(token, 2000), "expired");
  const [payload, mac] = token.split(".");
  const other = btoa(JSON.stringify({ p: "peer-2", e: 2000 })).replace(/=+$/, "");
  assert.equal(signer.verify(`${other}.${mac}`, 1000), "forged");
  assert.equal(signer.verify(`${payload}`, 1000), "malformed");
  assert.equal(signer.verify("a".repeat(600), 1000), "malformed");
  assert.throws(() => new TokenSigner(new Uint8Array(4)), RangeError);
});

Deno.test("TokenSigner accepts only the canonical spelling of a MAC", () => {
  const signer = new TokenSigner(SECRET);
  const token = signer.sign({ peerId: "peer-1", expiresAt: 2000 });
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = ALPHABET.indexOf(token.at(-1)!);
  // The last character carries 4 bits: its 3 siblings decode to the same MAC.
  const siblings = [0, 1, 2, 3].map((k) => (last & ~3) | k).filter((i) => i !== last);
  assert.equal(siblings.length, 3);
  for (const i of siblings) {
    assert.equal(signer.verify(token.slice(0, -1) + ALPHABET[i], 1000), "forged");
  }
  assert.equal(signer.verify(`${token}=`, 1000), "forged", "padding is not canonical");
  assert.deepEqual(signer.verify(token, 1000), { peerId: "peer-1", expiresAt: 2000 });
});

Deno.test("TokenSigner refuses a long but low-entropy secret", () => {
  const spaces = new TextEncoder().encode(" ".repeat(32));
  assert.throws(() => new TokenSigner(spaces), /fewer than 8 distinct bytes/);
  assert.throws(() => new TokenSigner(new TextEncoder().encode("abab".repeat(8))), RangeError);
  assert.ok(new TokenSigner(SECRET), "a real secret is accepted");
});

Deno.test("TokenSigner's tokens are base64url(payload).base64url(HMAC-SHA256) as node:crypto computes it", () => {
  const signer = new TokenSigner(SECRET);
  for (const peerId of ["p1", "0b9c6f4e-3f6d-4d3e-9d8a-2b1f0c9e7a61", "ünïcode-id"]) {
    const token = signer.sign({ peerId, expiresAt: 1_700_000_123_456 });
    const [payload, mac] = token.split(".");
    const json = JSON.stringify({ p: peerId, e: 1_700_000_123_456 });
    assert.equal(payload, Buffer.from(json).toString("base64url"));
    assert.equal(mac, createHmac("sha256", SECRET).update(payload).digest("base64url"));
    assert.deepEqual(signer.verify(token, 0), { peerId, expiresAt: 1_700_000_123_456 });
  }
});
