/**
 * Rate limits: a token bucket of frames per connection (with the strikes
 * that turn a flood into a close), and join budgets per connection and per
 * client address (against scanning for rooms by name). Pure arithmetic on
 * an injected clock: no sockets, no timers.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";

/** A refilling allowance of actions. */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #at: number;

  /** A full bucket of `burst` actions refilling at `perMs` per millisecond, as of `now`. */
  constructor(burst: number, perMs: number, now: number) {
    this.#burst = burst;
    this.#perMs = perMs;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Actions left as of the last {@linkcode TokenBucket.take}. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Spends one action if there is one left. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Gives back an action taken by {@linkcode TokenBucket.take} (it turned out free). */
  giveBack(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  /** Whether the bucket is back to a full burst (nothing to remember). */
  full(now: number): boolean {
    return this.#tokens + (now - this.#at) * this.#perMs >= this.#burst;
  }
}

/** Limits of a {@linkcode RateLimiter}; every field has a default. */
export interface RateLimitOptions {
  /** Token-bucket size: frames accepted in a burst. Default 500. */
  rateBurst?: number;
  /** Token-bucket refill, frames per second. Default 100. */
  ratePerSecond?: number;
  /** Rate-refused frames, without a pause, before closing with 1008. Default 1000. */
  abuseLimit?: number;
  /**
   * Joins one connection may attempt in a burst, refilled at
   * `joinsPerMinute`; the same budget, times ten, is shared by every
   * connection from one client address. Stops scanning for rooms by
   * name. Default 10.
   */
  joinBurst?: number;
  /** Join attempts per minute once the burst is spent. Default 10. */
  joinsPerMinute?: number;
  /**
   * Wrong room passwords one connection may try per `passwordTryWindowMs`
   * (a right one costs nothing). Default 5.
   */
  passwordTriesPerConnection?: number;
  /** The same, for every connection from one client address together. Default 20. */
  passwordTriesPerAddress?: number;
  /** The window those refill over, ms. Default 600,000 (ten minutes). */
  passwordTryWindowMs?: number;
}

/** What one more frame is: accepted, refused, or the last straw (close the connection). */
export type FrameVerdict = "accept" | "refuse" | "abusive";

/** An office behind one NAT still joins: an address gets ten connections' budget. */
const ADDRESS_FACTOR = 10;

/** Budgets (joins, password tries) shared by the connections of one client address. */
class AddressBudgets {
  #byAddress = new Map<string, TokenBucket>();
  constructor(readonly burst: number, readonly perMs: number) {}

  take(address: string, now: number): boolean {
    let shared = this.#byAddress.get(address);
    if (shared === undefined) {
      shared = new TokenBucket(this.burst, this.perMs, now);
      this.#byAddress.set(address, shared);
    }
    return shared.take(now);
  }

  giveBack(address: string): void {
    this.#byAddress.get(address)?.giveBack();
  }

  get size(): number {
    return this.#byAddress.size;
  }

  sweep(now: number): void {
    for (const [address, budget] of this.#byAddress) {
      if (budget.full(now)) this.#byAddress.delete(address);
    }
  }
}

/** What every connection of one {@linkcode RateLimiter} shares: its settings and the address budgets. */
interface Shared {
  burst: number;
  perMs: number;
  abuseLimit: number;
  joinBurst: number;
  joinsPerMs: number;
  addresses: AddressBudgets;
  passwordTries: number;
  passwordTriesPerMs: number;
  addressPasswordTries: AddressBudgets;
}

/** One connection's allowances: its frames, and its joins (shared with its address). */
export class ConnectionLimits {
  readonly #shared: Shared;
  readonly #address: string;
  readonly #frames: TokenBucket;
  readonly #joins: TokenBucket;
  #strikes = 0;
  /** Made on the first password: most connections never send one. */
  #passwordTries: TokenBucket | undefined;

  /** Use {@linkcode RateLimiter.connect}: full allowances as of `now`. */
  constructor(address: string, shared: Shared, now: number) {
    this.#address = address;
    this.#shared = shared;
    this.#frames = new TokenBucket(shared.burst, shared.perMs, now);
    this.#joins = new TokenBucket(shared.joinBurst, shared.joinsPerMs, now);
  }

  /** Spends a frame; refused frames count as strikes until the bucket refills. */
  takeFrame(now: number): FrameVerdict {
    if (this.#frames.take(now)) {
      // A bucket nearly full again means the flood stopped: forgive it.
      if (this.#frames.tokens >= this.#shared.burst - 1) this.#strikes = 0;
      return "accept";
    }
    this.#strikes++;
    return this.#strikes >= this.#shared.abuseLimit ? "abusive" : "refuse";
  }

  /** Spends a join from the connection's budget and its address's. */
  takeJoin(now: number): boolean {
    if (!this.#joins.take(now)) return false;
    // No address (tests, a transport without one): the connection's budget only.
    if (this.#address === "") return true;
    return this.#shared.addresses.take(this.#address, now);
  }

  /**
   * Spends a password try from the connection's budget and its address's,
   * before the (costly) hash is computed; {@linkcode ConnectionLimits.passwordWasRight}
   * gives it back, so only wrong passwords count.
   */
  takePasswordTry(now: number): boolean {
    // Full when made: as full as it would have been since the connection opened.
    const { passwordTries, passwordTriesPerMs, addressPasswordTries } = this.#shared;
    this.#passwordTries ??= new TokenBucket(passwordTries, passwordTriesPerMs, now);
    if (!this.#passwordTries.take(now)) return false;
    if (this.#address === "" || addressPasswordTries.take(this.#address, now)) return true;
    this.#passwordTries.giveBack();
    return false;
  }

  /** Returns the try a right password took. */
  passwordWasRight(): void {
    this.#passwordTries?.giveBack();
    if (this.#address !== "") this.#shared.addressPasswordTries.giveBack(this.#address);
  }
}

/** Hands out each connection's allowances and keeps the per-address ones. */
export class RateLimiter {
  readonly #shared: Shared;

  /** A limiter with `options`, each defaulting to {@linkcode DEFAULTS}. */
  constructor(options: RateLimitOptions = {}) {
    const joinBurst = options.joinBurst ?? DEFAULTS.joinBurst;
    const joinsPerMs = (options.joinsPerMinute ?? DEFAULTS.joinsPerMinute) / 60_000;
    const windowMs = options.passwordTryWindowMs ?? DEFAULTS.passwordTryWindowSeconds * 1000;
    const passwordTries = options.passwordTriesPerConnection ?? DEFAULTS.passwordTriesPerConnection;
    const perAddress = options.passwordTriesPerAddress ?? DEFAULTS.passwordTriesPerAddress;
    this.#shared = {
      burst: options.rateBurst ?? DEFAULTS.rateBurst,
      perMs: (options.ratePerSecond ?? DEFAULTS.ratePerSecond) / 1000,
      abuseLimit: options.abuseLimit ?? DEFAULTS.abuseLimit,
      joinBurst,
      joinsPerMs,
      addresses: new AddressBudgets(joinBurst * ADDRESS_FACTOR, joinsPerMs * ADDRESS_FACTOR),
      passwordTries,
      passwordTriesPerMs: passwordTries / windowMs,
      addressPasswordTries: new AddressBudgets(perAddress, perAddress / windowMs),
    };
  }

  /** Addresses with a join budget still refilling (for tests and metrics). */
  get addressCount(): number {
    return this.#shared.addresses.size;
  }

  /** Full allowances for a new connection from `address` ("" for none). */
  connect(address: string, now: number): ConnectionLimits {
    return new ConnectionLimits(address, this.#shared, now);
  }

  /** Forgets address budgets that refilled: they would start full anyway. */
  sweep(now: number): void {
    this.#shared.addresses.sweep(now);
    this.#shared.addressPasswordTries.sweep(now);
  }
}
