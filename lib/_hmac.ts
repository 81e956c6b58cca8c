/**
 * HMAC-SHA-256 with the key's padded blocks hashed once, for resume tokens:
 * every connection gets one in `welcome`, and `node:crypto`'s `createHmac`
 * builds a Node stream object and re-keys on every call — about half of
 * what a join cost the hub in JavaScript (docs/performance.md). And
 * HMAC-SHA-1, for TURN credentials (the TURN REST API fixes the hash).
 * Importing any `node:` module makes Deno check its inspector on every
 * WebSocket frame sent and received, so the server imports none. Both are
 * checked against `node:crypto` and the RFCs in `hmac_test.ts`.
 *
 * @module
 */

const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL = new Uint32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

/** Scratch space, reused by every call (single-threaded). */
const W = new Uint32Array(64);

/** Runs the SHA-256 compression on the 64-byte block at `offset` of `block`, into `state`. */
function compress(state: Uint32Array, block: Uint8Array, offset: number) {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    W[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15];
    const b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

/** Scratch state and block buffer, reused by every call (single-threaded). */
const STATE = new Uint32Array(8);
let padded = new Uint8Array(256);

/**
 * Hashes the first `length` bytes of `message` starting from `state`,
 * which already absorbed `prefix` bytes (one block), into `out` (32 bytes).
 */
function finish(
  state: Uint32Array,
  message: Uint8Array,
  length: number,
  prefix: number,
  out: Uint8Array,
) {
  STATE.set(state);
  const total = prefix + length;
  const end = ((length + 9 + 63) >> 6) << 6;
  if (padded.length < end) padded = new Uint8Array(end);
  for (let i = 0; i < length; i++) padded[i] = message[i];
  padded.fill(0, length, end);
  padded[length] = 0x80;
  // The length in bits, big-endian; the high word stays 0 (messages under 512 MiB).
  const bits = total * 8;
  padded[end - 4] = bits >>> 24;
  padded[end - 3] = bits >>> 16;
  padded[end - 2] = bits >>> 8;
  padded[end - 1] = bits;
  for (let offset = 0; offset < end; offset += 64) compress(STATE, padded, offset);
  for (let i = 0; i < 8; i++) {
    out[i * 4] = STATE[i] >>> 24;
    out[i * 4 + 1] = STATE[i] >>> 16;
    out[i * 4 + 2] = STATE[i] >>> 8;
    out[i * 4 + 3] = STATE[i];
  }
  return out;
}

/** The inner hash of an HMAC, reused by every call. */
const INNER = new Uint8Array(32);

/** SHA-256 of `message`. */
export function sha256(message: Uint8Array): Uint8Array {
  return finish(INITIAL, message, message.length, 0, new Uint8Array(32));
}

/** HMAC-SHA-256 under one key, its inner and outer key blocks absorbed once. */
export class Hmac {
  readonly #inner = INITIAL.slice();
  readonly #outer = INITIAL.slice();

  /** Prepares `key` (hashed first when longer than a block, as RFC 2104 says). */
  constructor(key: Uint8Array) {
    const block = new Uint8Array(64);
    block.set(key.length > 64 ? sha256(key) : key);
    const pad = new Uint8Array(64);
    for (let i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    compress(this.#inner, pad, 0);
    for (let i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    compress(this.#outer, pad, 0);
  }

  /** The 32-byte MAC of `message`'s first `length` bytes (all of it by default), into `out`. */
  digest(
    message: Uint8Array,
    length: number = message.length,
    out: Uint8Array = new Uint8Array(32),
  ): Uint8Array {
    return finish(this.#outer, finish(this.#inner, message, length, 64, INNER), 32, 64, out);
  }
}

/** SHA-1 of `message` (20 bytes). */
export function sha1(message: Uint8Array): Uint8Array {
  const length = message.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(message);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const w = new Int32Array(80);
  let h0 = 0x67452301,
    h1 = 0xefcdab89 | 0,
    h2 = 0x98badcfe | 0,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0 | 0;
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      const f = i < 20
        ? ((b & c) | (~b & d)) + 0x5a827999
        : i < 40
        ? (b ^ c ^ d) + 0x6ed9eba1
        : i < 60
        ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
        : (b ^ c ^ d) + 0xca62c1d6;
      const t = (((a << 5) | (a >>> 27)) + f + e + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const result = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => result.setInt32(i * 4, h));
  return out;
}

/** HMAC-SHA-1 of `message` under `key` (RFC 2104). */
export function hmacSha1(key: Uint8Array, message: Uint8Array): Uint8Array {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha1(key) : key);
  const inner = new Uint8Array(64 + message.length);
  const outer = new Uint8Array(64 + 20);
  for (let i = 0; i < 64; i++) {
    inner[i] = block[i] ^ 0x36;
    outer[i] = block[i] ^ 0x5c;
  }
  inner.set(message, 64);
  outer.set(sha1(inner), 64);
  return sha1(outer);
}
