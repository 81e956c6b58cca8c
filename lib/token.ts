/**
 * Resume tokens: proof that a reconnecting client is the peer it claims to
 * be. A token is `base64url(payload).base64url(HMAC-SHA256(secret, payload))`
 * where the payload names the peer id and an expiry (ms since the epoch).
 * Any server holding the same secret verifies it — after a restart too.
 *
 * @module
 */

import { sameBytes } from "./_bytes.ts";
import { Hmac } from "./_hmac.ts";

/** What a valid token proves. */
export interface TokenClaims {
  peerId: string;
  expiresAt: number;
}

/** Why a token was refused. */
export type TokenProblem = "malformed" | "forged" | "expired";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/**
 * Writes base64url without padding of `bytes[0, length)` into `out` from
 * `at`, as the ASCII codes of its characters; returns where it ended.
 */
function base64UrlInto(bytes: Uint8Array, length: number, out: Uint8Array, at: number): number {
  let o = at;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    out[o++] = CODES[(n >> 6) & 63];
    out[o++] = CODES[n & 63];
  }
  if (i < length) {
    const n = (bytes[i] << 16) | ((i + 1 < length ? bytes[i + 1] : 0) << 8);
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    if (i + 1 < length) out[o++] = CODES[(n >> 6) & 63];
  }
  return o;
}

/** Base64url without padding. */
function toBase64Url(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3));
  base64UrlInto(bytes, bytes.length, out, 0);
  return decoder.decode(out);
}

function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return;
  }
}

/** UTF-8 bytes of `text`, without the TextEncoder call when it is ASCII (ids and base64url are). */
function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 127) return encoder.encode(text);
    out[i] = code;
  }
  return out;
}

/** Scratch space for {@linkcode TokenSigner.sign} (single-threaded; grown for odd ids). */
let PAYLOAD = new Uint8Array(128);
let TOKEN = new Uint8Array(256);
const MAC = new Uint8Array(32);
const DOT = 46;
const PAYLOAD_HEAD = Uint8Array.from('{"p":"', (c) => c.charCodeAt(0));
const PAYLOAD_MIDDLE = Uint8Array.from('","e":', (c) => c.charCodeAt(0));

/**
 * Writes the payload `{"p":<id>,"e":<expiry>}` as JSON's UTF-8 into
 * `PAYLOAD`; returns its length. An id of plain ASCII (a UUID) is copied as
 * it is; anything JSON would escape goes through `JSON.stringify`.
 */
function payloadBytes({ peerId, expiresAt }: TokenClaims): number {
  const expiry = JSON.stringify(expiresAt);
  if (PAYLOAD.length < peerId.length + expiry.length + 16) {
    PAYLOAD = new Uint8Array(peerId.length + expiry.length + 16);
  }
  PAYLOAD.set(PAYLOAD_HEAD);
  let o = PAYLOAD_HEAD.length;
  for (let i = 0; i < peerId.length; i++) {
    const code = peerId.charCodeAt(i);
    // Control characters, quote, backslash and non-ASCII: the general path.
    if (code < 0x20 || code === 0x22 || code === 0x5c || code > 0x7e) {
      return escapedPayload(peerId, expiry);
    }
    PAYLOAD[o++] = code;
  }
  PAYLOAD.set(PAYLOAD_MIDDLE, o);
  o += PAYLOAD_MIDDLE.length;
  for (let i = 0; i < expiry.length; i++) PAYLOAD[o++] = expiry.charCodeAt(i);
  PAYLOAD[o++] = 0x7d; // }
  grow(o);
  return o;
}

function escapedPayload(peerId: string, expiry: string): number {
  const bytes = encoder.encode(`{"p":${JSON.stringify(peerId)},"e":${expiry}}`);
  if (PAYLOAD.length < bytes.length) PAYLOAD = new Uint8Array(bytes.length);
  PAYLOAD.set(bytes);
  grow(bytes.length);
  return bytes.length;
}

/** Makes room in `TOKEN` for the token of a `length`-byte payload. */
function grow(length: number) {
  const needed = Math.ceil((length * 4) / 3) + 1 + 43;
  if (TOKEN.length < needed) TOKEN = new Uint8Array(needed);
}

/** A secret must use at least this many different byte values. */
export const MIN_DISTINCT_SECRET_BYTES = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Signs and verifies resume tokens with one secret. */
export class TokenSigner {
  readonly #hmac: Hmac;

  constructor(secret: Uint8Array) {
    if (secret.length < 16) {
      throw new RangeError("Cannot sign tokens: secret shorter than 16 bytes");
    }
    // "                " or "aaaaaaaaaaaaaaaa" is long enough but guessable.
    if (new Set(secret).size < MIN_DISTINCT_SECRET_BYTES) {
      throw new RangeError(
        `Cannot sign tokens: secret has fewer than ${MIN_DISTINCT_SECRET_BYTES} distinct bytes`,
      );
    }
    this.#hmac = new Hmac(secret);
  }

  #mac(payload: string): Uint8Array {
    return this.#hmac.digest(bytesOf(payload));
  }

  /**
   * A token for `peerId` valid until `expiresAt`. Every connection gets
   * one in `welcome`, so it is written into scratch buffers and made into
   * one string: the payload's bytes, their base64url, the MAC over those
   * characters, its base64url.
   */
  sign(claims: TokenClaims): string {
    const length = payloadBytes(claims);
    const end = base64UrlInto(PAYLOAD, length, TOKEN, 0);
    this.#hmac.digest(TOKEN, end, MAC);
    TOKEN[end] = DOT;
    const last = base64UrlInto(MAC, MAC.length, TOKEN, end + 1);
    // ASCII, decoded natively: `String.fromCharCode.apply` would copy the
    // codes into an argument list first (a kilobyte of garbage a token).
    return decoder.decode(TOKEN.subarray(0, last));
  }

  /** The claims of a genuine, unexpired token, or why it is refused. */
  verify(token: string, now: number): TokenClaims | TokenProblem {
    if (token.length > 512) return "malformed";
    const [payload, mac, extra] = token.split(".");
    if (payload === undefined || mac === undefined || extra !== undefined) return "malformed";
    const given = fromBase64Url(mac);
    const expected = this.#mac(payload);
    // Only the canonical spelling: base64url has several for one MAC.
    if (
      given === undefined || given.length !== expected.length ||
      toBase64Url(given) !== mac || !sameBytes(given, expected)
    ) {
      return "forged";
    }
    let claims: unknown;
    try {
      claims = JSON.parse(decoder.decode(fromBase64Url(payload)));
    } catch {
      return "malformed";
    }
    if (typeof claims !== "object" || claims === null) return "malformed";
    const { p, e } = claims as Record<string, unknown>;
    if (typeof p !== "string" || typeof e !== "number") return "malformed";
    if (e <= now) return "expired";
    return { peerId: p, expiresAt: e };
  }
}
