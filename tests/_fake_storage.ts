/**
 * Storage fakes for the security-code stores: a `localStorage` stand-in
 * and an IndexedDB-like key-value store, each able to fail the way a
 * browser's does (private mode, quota, a corrupt entry).
 *
 * @module
 */

import type { TextStorage } from "../client/_stored_records.ts";
import type { KeyValueStorage } from "../client/certificate_store.ts";

/** A `localStorage` stand-in; set `failReads`/`failWrites` to make it throw. */
export class FakeTextStorage implements TextStorage {
  items = new Map<string, string>();
  failReads = false;
  failWrites = false;
  writes = 0;

  getItem(key: string): string | null {
    if (this.failReads) throw new DOMException("The operation is insecure.", "SecurityError");
    return this.items.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    if (this.failWrites) {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    }
    this.writes++;
    this.items.set(key, value);
  }
}

/** An IndexedDB-like key-value store; set `failGets`/`failPuts` to make it reject. */
export class FakeKeyValueStorage implements KeyValueStorage {
  values = new Map<string, unknown>();
  failGets = false;
  failPuts = false;
  puts = 0;

  get(key: string): Promise<unknown> {
    if (this.failGets) return Promise.reject(new DOMException("blocked", "InvalidStateError"));
    return Promise.resolve(this.values.get(key));
  }

  put(key: string, value: unknown): Promise<void> {
    if (this.failPuts) return Promise.reject(new DOMException("quota", "QuotaExceededError"));
    this.puts++;
    this.values.set(key, value);
    return Promise.resolve();
  }
}
