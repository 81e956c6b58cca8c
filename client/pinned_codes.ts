/**
 * The security code this browser agreed with each pair of certificates
 * (ours, theirs), so the code between two browsers stays the same from
 * one meeting to the next although every exchange draws fresh values.
 * A code is pinned after an exchange in which the two sides did not both
 * announce the same pin (`sas_exchange.ts`), and shown again only when
 * both do. Someone in the middle holds neither certificate, so it meets
 * a pair with no pin: fresh values, a new code. Kept in `localStorage`
 * (injected) with the two values, so the code can still be checked by
 * hand; bounded to the 500 most recently agreed or shown again pairs.
 *
 * @module
 */

import { fromHex, HEX_32, toHex } from "./_bytes.ts";
import { StoredRecords, type TextStorage } from "./_stored_records.ts";
import type { SasResult } from "./sas_exchange.ts";
import { isSecurityCode, securityCode } from "./security_code.ts";

/** The `localStorage` key of the pinned codes. */
export const PINNED_KEY = "mesh-rooms:pinned-codes";

/** Pairs of certificates kept; the oldest are forgotten first. */
export const MAX_PINNED = 500;

/** A code and the values it was derived from. */
export interface PinnedCode {
  code: string;
  localValue: Uint8Array;
  remoteValue: Uint8Array;
}

/** Options of a {@linkcode PinnedCodes}. */
export interface PinnedCodesOptions {
  /** Milliseconds since the epoch, to forget the oldest first. Default `Date.now`. */
  now?: () => number;
  /** Pairs kept. Default {@linkcode MAX_PINNED}. */
  limit?: number;
}

interface StoredPin {
  code: string;
  localValue: string;
  remoteValue: string;
}

/** Pinned codes by (local fingerprints, remote fingerprints). */
export class PinnedCodes {
  #records: StoredRecords<StoredPin>;

  constructor(storage: TextStorage, { now, limit = MAX_PINNED }: PinnedCodesOptions = {}) {
    this.#records = new StoredRecords(storage, {
      key: PINNED_KEY,
      limit,
      now,
      parse: (value) => {
        const { code, localValue, remoteValue } = (value ?? {}) as Record<string, unknown>;
        if (!isSecurityCode(code) || !isHex32(localValue) || !isHex32(remoteValue)) return;
        return { code, localValue, remoteValue };
      },
    });
  }

  /** The code pinned for this pair of fingerprint sets, if any. */
  get(local: readonly string[], remote: readonly string[]): PinnedCode | undefined {
    const pin = this.#records.get(pairId(local, remote));
    if (pin === undefined) return;
    const localValue = fromHex(pin.localValue)!;
    return { code: pin.code, localValue, remoteValue: fromHex(pin.remoteValue)! };
  }

  /** Pins `pin` for this pair, replacing any earlier one. */
  set(local: readonly string[], remote: readonly string[], pin: PinnedCode): void {
    this.#records.set(pairId(local, remote), {
      code: pin.code,
      localValue: toHex(pin.localValue),
      remoteValue: toHex(pin.remoteValue),
    });
  }
}

function isHex32(value: unknown): value is string {
  return typeof value === "string" && HEX_32.test(value);
}

/** Fingerprint lines hold no `,` or `|`. */
function pairId(local: readonly string[], remote: readonly string[]): string {
  return `${[...local].sort().join(",")}|${[...remote].sort().join(",")}`;
}

/** What {@linkcode codeAfterExchange} needs besides the exchange's result. */
export interface CodeContext {
  /** Fingerprints of the local description, from `fingerprintsOf`. */
  local: readonly string[];
  /** Fingerprints of the remote description. */
  remote: readonly string[];
  /** Where codes are pinned. */
  pins: PinnedCodes;
  /**
   * The pin announced when the round started (`null`: none), which is the
   * only one the round may show again. Default: the one pinned now.
   */
  pinned?: PinnedCode | null;
}

/**
 * The code to show after an exchange: the pin announced at the start of
 * the round when both sides announced it (`result.pinned`), which makes it
 * the most recently used, otherwise a new code from the exchange's values, which is
 * pinned from now on. `null` when the exchange failed: no code at all.
 */
export async function codeAfterExchange(
  result: SasResult,
  { local, remote, pins, pinned = pins.get(local, remote) ?? null }: CodeContext,
): Promise<PinnedCode | null> {
  if (!result.ok) return null;
  if (result.pinned && pinned !== null) {
    pins.set(local, remote, pinned); // in use again: the last to be forgotten
    return pinned;
  }
  const { localValue, remoteValue } = result;
  const code = await securityCode({ local, remote, localValue, remoteValue });
  const pin = { code, localValue, remoteValue };
  pins.set(local, remote, pin);
  return pin;
}
