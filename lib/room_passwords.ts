/**
 * Passwords of rooms: the hash record a join into each room must match
 * (hashed and checked elsewhere: `password.ts`, `join_flow.ts`). Part of the
 * room authority (`authority.ts` says when a room has one to check).
 *
 * @module
 */

import type { PasswordRecord } from "./password.ts";

/** Every room's password record. */
export class RoomPasswords {
  #records = new Map<string, PasswordRecord>();

  /** The password record of `channel` (null: none). */
  of(channel: string): PasswordRecord | null {
    return this.#records.get(channel) ?? null;
  }

  /** Sets or clears (null) the password record of `channel`. */
  set(channel: string, record: PasswordRecord | null): void {
    if (record === null) this.#records.delete(channel);
    else this.#records.set(channel, record);
  }

  /** Forgets `channel`'s password (its room ended). */
  drop(channel: string): void {
    this.#records.delete(channel);
  }

  /** Forgets every room's password. */
  clear(): void {
    this.#records.clear();
  }
}
