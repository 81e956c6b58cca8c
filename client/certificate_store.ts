/**
 * This browser's own DTLS certificate, used for every connection so the
 * security code between two browsers stays the same from one meeting to
 * the next. Generated once (ECDSA P-256, `RTCPeerConnection.generateCertificate`),
 * kept in IndexedDB (an `RTCCertificate` is structured-cloneable), and
 * replaced when it has less than a week left. A browser that cannot store
 * it (private mode, storage blocked) still gets one certificate for the
 * whole page, reported as not persistent: its codes change per meeting.
 * The generator and the storage are injected so all of this runs under
 * `deno test` with fakes.
 *
 * @module
 */

/** The key-value storage a {@linkcode CertificateStore} needs (IndexedDB in the browser). */
export interface KeyValueStorage {
  /** The value under `key`, `undefined` if none; rejects if storage is unavailable. */
  get(key: string): Promise<unknown>;
  /** Stores `value` under `key`; rejects if it cannot. */
  put(key: string, value: unknown): Promise<void>;
}

/** `RTCPeerConnection.generateCertificate`. */
export type GenerateCertificate = (keygen: AlgorithmIdentifier) => Promise<RTCCertificate>;

/** The storage key of the certificate. */
export const CERTIFICATE_KEY = "dtls-certificate";

/** A certificate with less time left than this is replaced: 7 days. */
export const RENEW_BEFORE_MS = 7 * 24 * 60 * 60 * 1000;

/** The lifetime asked for: 365 days, Chromium's upper limit (the default is 30). */
export const CERTIFICATE_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;

/** ECDSA P-256 with the longest lifetime browsers allow. */
const KEYGEN = { name: "ECDSA", namedCurve: "P-256", expires: CERTIFICATE_LIFETIME_MS };

/** What {@linkcode CertificateStore.certificate} gives. */
export interface LoadedCertificate {
  /** The certificate for `RTCConfiguration.certificates`; `null`: let the browser make its own. */
  certificate: RTCCertificate | null;
  /** Whether it was stored, so the next meeting uses it again. */
  persistent: boolean;
}

/** Collaborators of a {@linkcode CertificateStore}. */
export interface CertificateStoreOptions {
  /** Where the certificate is kept, e.g. {@linkcode IndexedDbStorage}. */
  storage: KeyValueStorage;
  /** Default `RTCPeerConnection.generateCertificate`. */
  generate?: GenerateCertificate;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Loads, renews and keeps this browser's certificate; one per page. */
export class CertificateStore {
  #options: CertificateStoreOptions;
  #loaded: Promise<LoadedCertificate> | null = null;

  constructor(options: CertificateStoreOptions) {
    this.#options = options;
  }

  /** The certificate to use for every connection of this page. Never rejects. */
  certificate(): Promise<LoadedCertificate> {
    this.#loaded ??= this.#load();
    return this.#loaded;
  }

  async #load(): Promise<LoadedCertificate> {
    const { storage } = this.#options;
    let stored: unknown;
    try {
      stored = await storage.get(CERTIFICATE_KEY);
    } catch {
      return { certificate: await this.#generate(), persistent: false };
    }
    if (this.#usable(stored)) return { certificate: stored, persistent: true };
    const certificate = await this.#generate();
    if (certificate === null) return { certificate, persistent: false };
    try {
      await storage.put(CERTIFICATE_KEY, certificate);
      // Another tab may have stored its own meanwhile: all tabs use the one kept.
      const kept = await storage.get(CERTIFICATE_KEY);
      return { certificate: this.#usable(kept) ? kept : certificate, persistent: true };
    } catch {
      return { certificate, persistent: false };
    }
  }

  /** A new certificate; `null` if the browser cannot make one. */
  async #generate(): Promise<RTCCertificate | null> {
    const generate = this.#options.generate ??
      ((keygen) => RTCPeerConnection.generateCertificate(keygen));
    try {
      return await generate(KEYGEN);
    } catch {
      // A browser that refuses the lifetime still makes one with its default.
      const { expires: _, ...keygen } = KEYGEN;
      return await generate(keygen).catch(() => null);
    }
  }

  /** Whether `value` is a certificate with more than a week left. */
  #usable(value: unknown): value is RTCCertificate {
    if (typeof value !== "object" || value === null) return false;
    const { expires } = value as { expires?: unknown };
    const now = (this.#options.now ?? Date.now)();
    return typeof expires === "number" && expires - now > RENEW_BEFORE_MS;
  }
}

/** A {@linkcode KeyValueStorage} in one IndexedDB object store. */
export class IndexedDbStorage implements KeyValueStorage {
  #database: Promise<IDBDatabase> | null = null;
  #name: string;

  /** Uses the object store "keyval" of the database `name`. */
  constructor(name = "mesh-rooms") {
    this.#name = name;
  }

  /** The value under `key`. */
  async get(key: string): Promise<unknown> {
    const store = (await this.#open()).transaction("keyval").objectStore("keyval");
    return await settle(store.get(key));
  }

  /** Stores `value` under `key`, resolving once the transaction is committed. */
  async put(key: string, value: unknown): Promise<void> {
    const transaction = (await this.#open()).transaction("keyval", "readwrite");
    transaction.objectStore("keyval").put(value, key);
    await new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
  }

  #open(): Promise<IDBDatabase> {
    this.#database ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(this.#name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("keyval");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    // A failed open (private mode) is tried again next time rather than remembered.
    this.#database.catch(() => this.#database = null);
    return this.#database;
  }
}

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
