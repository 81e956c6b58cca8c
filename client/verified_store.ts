/**
 * Which people this browser has verified, remembered per remote browser id
 * together with the security code that was compared, the way Signal keeps
 * a verified safety number: if that person's code later differs (a new
 * certificate, or someone in the middle), they show as "changed" until
 * verified again or the verification is removed. Kept in `localStorage`
 * (injected), bounded to the 500 most recent verifications.
 *
 * @module
 */

import { StoredRecords, type TextStorage } from "./_stored_records.ts";
import { isSecurityCode } from "./security_code.ts";

/** What a person's tile and People row say. */
export type VerifiedStatus = "verified" | "changed" | "unverified";

/** The `localStorage` key of the verifications. */
export const VERIFIED_KEY = "mesh-rooms:verified";

/** Verifications kept; the oldest are forgotten first. */
export const MAX_VERIFIED = 500;

/** Options of a {@linkcode VerifiedStore}. */
export interface VerifiedStoreOptions {
  /** Milliseconds since the epoch, to forget the oldest first. Default `Date.now`. */
  now?: () => number;
  /** Verifications kept. Default {@linkcode MAX_VERIFIED}. */
  limit?: number;
}

/** Verified security codes by browser id. */
export class VerifiedStore {
  #records: StoredRecords<{ code: string }>;

  constructor(storage: TextStorage, { now, limit = MAX_VERIFIED }: VerifiedStoreOptions = {}) {
    this.#records = new StoredRecords(storage, {
      key: VERIFIED_KEY,
      limit,
      now,
      parse: (value) => {
        const code = (value as { code?: unknown } | null)?.code;
        return isSecurityCode(code) ? { code } : undefined;
      },
    });
  }

  /**
   * "verified" if `code` is the one verified for `browserId`, "changed" if
   * another one was (or `code` is `null`: no code could be agreed), and
   * "unverified" if none was.
   */
  status(browserId: string, code: string | null): VerifiedStatus {
    const record = this.#records.get(browserId);
    if (record === undefined) return "unverified";
    return record.code === code ? "verified" : "changed";
  }

  /** Marks `browserId` verified with `code` (replacing any earlier code). */
  verify(browserId: string, code: string): void {
    if (!isSecurityCode(code)) {
      throw new TypeError(`Cannot verify "${browserId}": "${code}" is not a security code`);
    }
    this.#records.set(browserId, { code });
  }

  /** Removes the verification of `browserId`. */
  unverify(browserId: string): void {
    this.#records.delete(browserId);
  }
}
