/**
 * The security code two people compare to check that nobody relayed the
 * DTLS handshake between their browsers: 15 digits derived from both
 * certificate fingerprints (as the local and remote descriptions carry
 * them) and both random values of the commit-then-reveal exchange
 * (`sas_exchange.ts`). Pure functions over strings and bytes, so the
 * derivation is tested without a browser.
 *
 * The derivation, exactly (docs/security.md walks through it by hand):
 *
 * 1. Each side's fingerprints are its description's `a=fingerprint` lines
 *    written `<algorithm> <HEX>`: algorithm in lower case (`sha-256`), the
 *    digest in upper-case hex pairs joined by `:`, distinct lines sorted.
 *    Browsers write exactly one (`sha-256`).
 * 2. Each side is one block of text: its fingerprint lines, each followed
 *    by `\n`, then its 32-byte value as 64 lower-case hex digits and `\n`.
 *    A fingerprint line holds a space and a value line does not, so a
 *    block reads back one way only.
 * 3. The two blocks are sorted as byte strings (ASCII order): the side
 *    whose fingerprint sorts first comes first (the value decides only if
 *    both browsers hold the same certificate). Both people therefore hash
 *    the same input, whoever is local.
 * 4. input = `mesh-security-code-v1\n` + first block + second block, as
 *    UTF-8 (all ASCII).
 * 5. code = the first 8 bytes of SHA-256(input) read as an unsigned
 *    big-endian 64-bit integer, modulo 10^15, written in decimal with
 *    leading zeros to 15 digits. Shown as three groups of five.
 *
 * @module
 */

import { sha256, toHex } from "./_bytes.ts";

/** Domain separation: the first line of every hashed input. */
export const CODE_PREFIX = "mesh-security-code-v1\n";

/** Digits in a security code (about 50 bits). */
export const CODE_DIGITS = 15;

/** Bytes of each side's random value. */
export const VALUE_BYTES = 32;

/** Hash functions accepted in a fingerprint, with their digest length in bytes. */
const DIGEST_BYTES: Readonly<Record<string, number>> = {
  "sha-256": 32,
  "sha-384": 48,
  "sha-512": 64,
};

/** A normalised fingerprint line: `sha-256 AB:CD:…`. */
const NORMALISED = /^sha-(256|384|512) [0-9A-F]{2}(:[0-9A-F]{2})*$/;

const FINGERPRINT_LINE = /^a=fingerprint:(\S+)[ \t]+(\S+)[ \t]*$/i;

/**
 * The certificate fingerprints of a session description, normalised
 * (`sha-256 AB:CD:…`), distinct and sorted. Media-level lines override
 * the session-level ones for their m-section; every m-section that has
 * any must have the same set. `null` when there is none, when m-sections
 * disagree, or when a line is malformed or uses a hash function other
 * than SHA-256/384/512 (a browser may check the certificate against that
 * line alone, so a code that left it out would prove nothing).
 */
export function fingerprintsOf(sdp: string): string[] | null {
  const session: string[] = [];
  const sections: string[][] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("m=")) {
      sections.push([]);
      continue;
    }
    if (!/^a=fingerprint:/i.test(line)) continue;
    const fingerprint = normalise(line);
    if (fingerprint === null) return null;
    (sections.at(-1) ?? session).push(fingerprint);
  }
  // A section without lines of its own uses the session's; one without any
  // (a rejected m-line) carries no DTLS transport and is left out.
  const sets = (sections.length === 0 ? [session] : sections)
    .map((own) => own.length > 0 ? own : session)
    .filter((set) => set.length > 0)
    .map((set) => [...new Set(set)].sort());
  if (sets.length === 0) return null;
  const first = sets[0].join("\n");
  return sets.every((set) => set.join("\n") === first) ? sets[0] : null;
}

/** One `a=fingerprint` line normalised, or `null` if malformed. */
function normalise(line: string): string | null {
  const match = FINGERPRINT_LINE.exec(line.trim());
  if (match === null) return null;
  const algorithm = match[1].toLowerCase();
  const hex = match[2].toUpperCase();
  const bytes = DIGEST_BYTES[algorithm];
  if (bytes === undefined || !/^[0-9A-F]{2}(:[0-9A-F]{2})*$/.test(hex)) return null;
  return (hex.length + 1) / 3 === bytes ? `${algorithm} ${hex}` : null;
}

/** What {@linkcode securityCode} derives the code from. */
export interface CodeInput {
  /** Fingerprints of our local description, as {@linkcode fingerprintsOf} gives them. */
  local: readonly string[];
  /** Fingerprints of the remote description. */
  remote: readonly string[];
  /** Our 32-byte value from the exchange. */
  localValue: Uint8Array;
  /** The other side's 32-byte value. */
  remoteValue: Uint8Array;
}

/**
 * The 15-digit security code of a connection (see the module doc for the
 * derivation). The same for both sides: swapping local and remote gives
 * the same code. Rejects with a `TypeError` if a fingerprint is not
 * normalised or a value is not 32 bytes.
 */
export async function securityCode(input: CodeInput): Promise<string> {
  const blocks = [
    block(input.local, input.localValue),
    block(input.remote, input.remoteValue),
  ].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  const digest = await sha256(CODE_PREFIX + blocks.join(""));
  const number = BigInt("0x" + toHex(digest.subarray(0, 8))) % 10n ** BigInt(CODE_DIGITS);
  return number.toString().padStart(CODE_DIGITS, "0");
}

/** One side's block of the hashed input. */
function block(fingerprints: readonly string[], value: Uint8Array): string {
  if (fingerprints.length === 0 || !fingerprints.every((line) => NORMALISED.test(line))) {
    throw new TypeError("Cannot derive a security code: fingerprints are not normalised");
  }
  if (value.length !== VALUE_BYTES) {
    throw new TypeError(`Cannot derive a security code: a value is not ${VALUE_BYTES} bytes`);
  }
  const lines = [...new Set(fingerprints)].sort();
  return lines.map((line) => line + "\n").join("") + toHex(value) + "\n";
}

/** Whether `value` is a security code: exactly 15 decimal digits. */
export function isSecurityCode(value: unknown): value is string {
  return typeof value === "string" && /^[0-9]{15}$/.test(value);
}

/** A code as people read it: `12345 67890 12345`. */
export function formatCode(code: string): string {
  if (!isSecurityCode(code)) {
    throw new TypeError(`Cannot format "${code}": a security code is 15 digits`);
  }
  return `${code.slice(0, 5)} ${code.slice(5, 10)} ${code.slice(10)}`;
}
