/**
 * Hex and SHA-256 helpers shared by the security-code modules: lower-case
 * hex without separators, and Web Crypto's digest, so they run in the
 * browser and under `deno test` alike.
 *
 * @module
 */

/** Exactly 32 bytes as 64 lower-case hex digits: every value and hash of the exchange. */
export const HEX_32 = /^[0-9a-f]{64}$/;

/** `bytes` as lower-case hex, two digits a byte. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The bytes of an even-length lower-case hex string; `undefined` if it is not one. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

/** SHA-256 of `data` (a string is hashed as UTF-8). */
export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const input = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", input as Uint8Array<ArrayBuffer>));
}
