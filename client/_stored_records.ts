/**
 * A small map of records kept as one JSON value in `localStorage` (or
 * anything shaped like it), bounded to the most recently written entries
 * and tolerant of what a browser does to storage: corrupt or foreign JSON
 * reads as empty (bad entries are dropped one by one), and a storage that
 * throws (private mode, quota, a sandboxed frame) leaves the records in
 * memory for the rest of the page. Read again on every call, so other tabs'
 * writes are seen. Shared by `verified_store.ts` and `pinned_codes.ts`.
 *
 * @module
 */

/** The part of `localStorage` a store needs. */
export interface TextStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** How a {@linkcode StoredRecords} reads and bounds its entries. */
export interface StoredRecordsOptions<T> {
  /** The storage key holding the whole map. */
  key: string;
  /** Entries kept; the least recently written go first. */
  limit: number;
  /** Rebuilds one stored record from checked fields; `undefined` drops it. */
  parse(value: unknown): T | undefined;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Longest id kept: longer ones are not ours. */
const MAX_ID_LENGTH = 1024;

interface Entry<T> {
  at: number;
  record: T;
}

/** Records by id, persisted as `[{ "id", "at", "record" }, …]`. */
export class StoredRecords<T> {
  #storage: TextStorage;
  #options: StoredRecordsOptions<T>;
  /** The text last read or written, and what it holds. */
  #raw: string | null = null;
  #entries = new Map<string, Entry<T>>();
  /** Storage failed: memory is the only copy from now on. */
  #detached = false;

  constructor(storage: TextStorage, options: StoredRecordsOptions<T>) {
    this.#storage = storage;
    this.#options = options;
  }

  /** The record for `id`, if any. */
  get(id: string): T | undefined {
    return this.#read().get(id)?.record;
  }

  /** Stores `record` under `id` as the most recent entry. */
  set(id: string, record: T): void {
    const entries = new Map(this.#read());
    entries.delete(id);
    entries.set(id, { at: (this.#options.now ?? Date.now)(), record });
    this.#write(entries);
  }

  /** Forgets `id`. */
  delete(id: string): void {
    const entries = new Map(this.#read());
    if (entries.delete(id)) this.#write(entries);
  }

  #read(): Map<string, Entry<T>> {
    if (this.#detached) return this.#entries;
    let raw: string | null;
    try {
      raw = this.#storage.getItem(this.#options.key);
    } catch {
      this.#detached = true;
      return this.#entries;
    }
    if (raw !== this.#raw) {
      this.#raw = raw;
      this.#entries = this.#parse(raw);
    }
    return this.#entries;
  }

  #parse(raw: string | null): Map<string, Entry<T>> {
    const entries = new Map<string, Entry<T>>();
    let list: unknown;
    try {
      list = JSON.parse(raw ?? "[]");
    } catch {
      return entries;
    }
    if (!Array.isArray(list)) return entries;
    for (const item of list) {
      if (typeof item !== "object" || item === null) continue;
      const { id, at } = item as Record<string, unknown>;
      const record = this.#options.parse((item as Record<string, unknown>).record);
      if (
        typeof id !== "string" || id.length > MAX_ID_LENGTH || typeof at !== "number" ||
        !Number.isFinite(at) || record === undefined
      ) continue;
      entries.delete(id);
      entries.set(id, { at, record });
    }
    return this.#bounded(entries);
  }

  /** The `limit` most recently written entries, oldest first. */
  #bounded(entries: Map<string, Entry<T>>): Map<string, Entry<T>> {
    const sorted = [...entries].sort(([, a], [, b]) => a.at - b.at);
    return new Map(sorted.slice(Math.max(0, sorted.length - this.#options.limit)));
  }

  #write(entries: Map<string, Entry<T>>) {
    this.#entries = this.#bounded(entries);
    const list = [...this.#entries].map(([id, { at, record }]) => ({ id, at, record }));
    const raw = JSON.stringify(list);
    if (this.#detached) return;
    try {
      this.#storage.setItem(this.#options.key, raw);
      this.#raw = raw;
    } catch {
      this.#detached = true;
    }
  }
}
