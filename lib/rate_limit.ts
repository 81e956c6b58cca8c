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

  /** A full bucket of `burst` actions refilling at `perMs` per millisecond. */
  constructor(burst: number, { perMs, now }: { perMs: number; now: number }) {
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
      shared = new TokenBucket(this.burst, { perMs: this.perMs, now });
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

/** One connection's allowances: its frames, and its joins (shared with its address). */
export class ConnectionLimits {
  readonly #frames: TokenBucket;
  readonly #burst: number;
  readonly #abuseLimit: number;
  #strikes = 0;
  readonly #joins: TokenBucket;
  /** Made on the first password: most connections never send one. */
  #passwordTries: TokenBucket | undefined;
  readonly #newPasswordTries: (now: number) => TokenBucket;
  readonly #address: string;
  readonly #addresses: AddressBudgets;
  readonly #addressPasswordTries: AddressBudgets;

  /** Use {@linkcode RateLimiter.connect}; the budgets come from its limits. */
  constructor(
    address: string,
    budgets: {
      frames: TokenBucket;
      burst: number;
      abuseLimit: number;
      joins: TokenBucket;
      addresses: AddressBudgets;
      passwordTries: (now: number) => TokenBucket;
      addressPasswordTries: AddressBudgets;
    },
  ) {
    this.#address = address;
    this.#frames = budgets.frames;
    this.#burst = budgets.burst;
    this.#abuseLimit = budgets.abuseLimit;
    this.#joins = budgets.joins;
    this.#addresses = budgets.addresses;
    this.#newPasswordTries = budgets.passwordTries;
    this.#addressPasswordTries = budgets.addressPasswordTries;
  }

  /** Spends a frame; refused frames count as strikes until the bucket refills. */
  takeFrame(now: number): FrameVerdict {
    if (this.#frames.take(now)) {
      // A bucket nearly full again means the flood stopped: forgive it.
      if (this.#frames.tokens >= this.#burst - 1) this.#strikes = 0;
      return "accept";
    }
    this.#strikes++;
    return this.#strikes >= this.#abuseLimit ? "abusive" : "refuse";
  }

  /** Spends a join from the connection's budget and its address's. */
  takeJoin(now: number): boolean {
    if (!this.#joins.take(now)) return false;
    // No address (tests, a transport without one): the connection's budget only.
    if (this.#address === "") return true;
    return this.#addresses.take(this.#address, now);
  }

  /**
   * Spends a password try from the connection's budget and its address's,
   * before the (costly) hash is computed; {@linkcode ConnectionLimits.passwordWasRight}
   * gives it back, so only wrong passwords count.
   */
  takePasswordTry(now: number): boolean {
    // Full when made: as full as it would have been since the connection opened.
    this.#passwordTries ??= this.#newPasswordTries(now);
    if (!this.#passwordTries.take(now)) return false;
    if (this.#address === "" || this.#addressPasswordTries.take(this.#address, now)) return true;
    this.#passwordTries.giveBack();
    return false;
  }

  /** Returns the try a right password took. */
  passwordWasRight(): void {
    this.#passwordTries?.giveBack();
    if (this.#address !== "") this.#addressPasswordTries.giveBack(this.#address);
  }
}

/** Hands out each connection's allowances and keeps the per-address ones. */
export class RateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #abuseLimit: number;
  readonly #joinBurst: number;
  readonly #joinsPerMs: number;
  readonly #addresses: AddressBudgets;
  /** A connection's password budget, made when it first sends a password. */
  readonly #passwordBucket: (now: number) => TokenBucket;
  readonly #addressPasswordTries: AddressBudgets;

  /** A limiter with `options`, each defaulting to {@linkcode DEFAULTS}. */
  constructor(options: RateLimitOptions = {}) {
    this.#burst = options.rateBurst ?? DEFAULTS.rateBurst;
    this.#perMs = (options.ratePerSecond ?? DEFAULTS.ratePerSecond) / 1000;
    this.#abuseLimit = options.abuseLimit ?? DEFAULTS.abuseLimit;
    this.#joinBurst = options.joinBurst ?? DEFAULTS.joinBurst;
    this.#joinsPerMs = (options.joinsPerMinute ?? DEFAULTS.joinsPerMinute) / 60_000;
    this.#addresses = new AddressBudgets(
      this.#joinBurst * ADDRESS_FACTOR,
      this.#joinsPerMs * ADDRESS_FACTOR,
    );
    const windowMs = options.passwordTryWindowMs ?? DEFAULTS.passwordTryWindowSeconds * 1000;
    const tries = options.passwordTriesPerConnection ?? DEFAULTS.passwordTriesPerConnection;
    this.#passwordBucket = (now) => new TokenBucket(tries, { perMs: tries / windowMs, now });
    const perAddress = options.passwordTriesPerAddress ?? DEFAULTS.passwordTriesPerAddress;
    this.#addressPasswordTries = new AddressBudgets(perAddress, perAddress / windowMs);
  }

  /** Addresses with a join budget still refilling (for tests and metrics). */
  get addressCount(): number {
    return this.#addresses.size;
  }

  /** Full allowances for a new connection from `address` ("" for none). */
  connect(address: string, now: number): ConnectionLimits {
    return new ConnectionLimits(address, {
      frames: new TokenBucket(this.#burst, { perMs: this.#perMs, now }),
      burst: this.#burst,
      abuseLimit: this.#abuseLimit,
      joins: new TokenBucket(this.#joinBurst, { perMs: this.#joinsPerMs, now }),
      addresses: this.#addresses,
      passwordTries: this.#passwordBucket,
      addressPasswordTries: this.#addressPasswordTries,
    });
  }

  /** Forgets address budgets that refilled: they would start full anyway. */
  sweep(now: number): void {
    this.#addresses.sweep(now);
    this.#addressPasswordTries.sweep(now);
  }
}
