/**
 * Room passwords, kept only as salted hashes: PBKDF2-SHA-256 through
 * WebCrypto, which runs off the event loop (every call is async), with a
 * random 16-byte salt per password. The record is plain strings so it can
 * be saved with the room's state.
 *
 * Each hash holds a core for tens of milliseconds, so the server hashes
 * through a {@linkcode HashQueue}: a few at a time, a short queue, and a
 * refusal beyond it — a crowd of strangers setting or guessing passwords
 * must not take the event loop's core from everyone else.
 *
 * @module
 */

import { sameBytes, toBase64 } from "./_bytes.ts";
import { DEFAULTS } from "./config.ts";
import { isObject } from "./protocol.ts";

/** A salted password hash: base64 salt and hash, and the iteration count used. */
export interface PasswordRecord {
  salt: string;
  hash: string;
  iterations: number;
}

const ENCODER = new TextEncoder();
const SALT_BYTES = 16;
const HASH_BITS = 256;

/** Hashes `password` with a fresh random salt. */
export async function hashPassword(
  password: string,
  { iterations = DEFAULTS.passwordIterations }: { iterations?: number } = {},
): Promise<PasswordRecord> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return { salt: toBase64(salt), hash: toBase64(hash), iterations };
}

/** Whether `password` matches `record`, compared in constant time. */
export async function verifyPassword(password: string, record: PasswordRecord): Promise<boolean> {
  const expected = fromBase64(record.hash);
  const actual = await derive(password, fromBase64(record.salt), record.iterations);
  return sameBytes(actual, expected);
}

/**
 * Hashes and checks passwords, or says it is too busy to (undefined).
 * `group` names who asks (a wide address group): one group may hold only
 * a few places, so one network cannot fill the queue alone.
 */
export interface PasswordHashing {
  /** A record for `password`; undefined when too many hashes wait already. */
  hash(password: string, group?: string): Promise<PasswordRecord> | undefined;
  /** Whether `password` matches `record`; undefined when too many hashes wait already. */
  verify(password: string, record: PasswordRecord, group?: string): Promise<boolean> | undefined;
}

/** Options of a {@linkcode HashQueue}; every field has a default. */
export interface HashQueueOptions {
  /** Hashes computed at once. Default 1 (a 2-core machine keeps a core for the event loop). */
  concurrency?: number;
  /** Hashes waiting for a slot; more are refused. Default 8. */
  maxQueued?: number;
  /** Hashes one group may have running or waiting at once. Default 2. */
  maxPerGroup?: number;
  /** PBKDF2 iterations of new records. Default 100,000. */
  iterations?: number;
}

/** A bounded queue in front of PBKDF2: at most `concurrency` hashes run, `maxQueued` wait. */
export class HashQueue implements PasswordHashing {
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #iterations: number;
  readonly #maxPerGroup: number;
  #running = 0;
  #waiting: (() => void)[] = [];
  /** Hashes running or waiting, by group (only groups with some). */
  #byGroup = new Map<string, number>();

  /** A queue with `options`, each defaulting as {@linkcode HashQueueOptions} says. */
  constructor(options: HashQueueOptions = {}) {
    this.#concurrency = options.concurrency ?? DEFAULTS.passwordHashConcurrency;
    this.#maxQueued = options.maxQueued ?? DEFAULTS.passwordHashQueue;
    this.#iterations = options.iterations ?? DEFAULTS.passwordIterations;
    this.#maxPerGroup = options.maxPerGroup ?? DEFAULTS.passwordHashesPerGroup;
  }

  /** Hashes running or waiting now. */
  get pending(): number {
    return this.#running + this.#waiting.length;
  }

  hash(password: string, group = ""): Promise<PasswordRecord> | undefined {
    return this.#run(group, () => hashPassword(password, { iterations: this.#iterations }));
  }

  verify(password: string, record: PasswordRecord, group = ""): Promise<boolean> | undefined {
    return this.#run(group, () => verifyPassword(password, record));
  }

  #run<T>(group: string, work: () => Promise<T>): Promise<T> | undefined {
    if (this.#running >= this.#concurrency && this.#waiting.length >= this.#maxQueued) return;
    const held = this.#byGroup.get(group) ?? 0;
    if (group !== "" && held >= this.#maxPerGroup) return;
    this.#byGroup.set(group, held + 1);
    const turn = this.#running < this.#concurrency
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#running < this.#concurrency) this.#running++;
    return turn.then(work).finally(() => {
      const left = (this.#byGroup.get(group) ?? 1) - 1;
      if (left > 0) this.#byGroup.set(group, left);
      else this.#byGroup.delete(group);
      const next = this.#waiting.shift();
      // The slot passes straight to the next in line.
      if (next !== undefined) next();
      else this.#running--;
    });
  }
}

/** Whether two records are the same hash (one may have come from another instance). */
export function sameRecord(a: PasswordRecord, b: PasswordRecord | undefined): boolean {
  return b !== undefined && a.salt === b.salt && a.hash === b.hash &&
    a.iterations === b.iterations;
}

/** Rebuilds a record read from disk; undefined if it is not one. */
export function parsePasswordRecord(value: unknown): PasswordRecord | undefined {
  if (!isObject(value)) return;
  const { salt, hash, iterations } = value;
  if (
    typeof salt !== "string" || typeof hash !== "string" || typeof iterations !== "number" ||
    !Number.isInteger(iterations) || iterations < 1 || salt.length > 64 || hash.length > 128
  ) return;
  return { salt, hash, iterations };
}

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number) {
  const key = await crypto.subtle.importKey("raw", ENCODER.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}
