/**
 * Resume tokens: proof that a reconnecting client is the peer it claims to
 * be. A token is `base64url(payload).base64url(HMAC-SHA256(secret, payload))`
 * where the payload names the peer id and an expiry (ms since the epoch).
 * Any server holding the same secret verifies it — after a restart too.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
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
 * Base64url without padding, as the ASCII codes of its characters (the MAC
 * is taken over them, and one string is made of them, not one per step:
 * this runs for every connection).
 */
function base64UrlCodes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((bytes.length * 4) / 3));
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    out[o++] = CODES[(n >> 6) & 63];
    out[o++] = CODES[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    out[o++] = CODES[n >> 18];
    out[o++] = CODES[(n >> 12) & 63];
    if (i + 1 < bytes.length) out[o++] = CODES[(n >> 6) & 63];
  }
  return out;
}

/** The string of ASCII `codes`. */
function ascii(codes: Uint8Array): string {
  return String.fromCharCode.apply(null, codes as unknown as number[]);
}

function toBase64Url(bytes: Uint8Array): string {
  return ascii(base64UrlCodes(bytes));
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

  /** A token for `peerId` valid until `expiresAt`. */
  sign(claims: TokenClaims): string {
    const payload = base64UrlCodes(
      bytesOf(`{"p":${JSON.stringify(claims.peerId)},"e":${JSON.stringify(claims.expiresAt)}}`),
    );
    return `${ascii(payload)}.${toBase64Url(this.#hmac.digest(payload))}`;
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
      toBase64Url(given) !== mac || !timingSafeEqual(given, expected)
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
