/**
 * The token bucket every rate limit counts with: a connection's frames and
 * its own budgets (`connection_limits.ts`), and the shared budgets this
 * process keeps (`budgets.ts`). Pure arithmetic on an injected clock.
 *
 * @module
 */

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
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Gives back an action taken by {@linkcode TokenBucket.take} (it turned out free). */
  giveBack(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }

  /** Spends everything: the bucket refills from `now` (a wait imposed). */
  drain(now: number): void {
    this.#refill(now);
    this.#tokens = 0;
  }

  /** Whether an action is left as of `now`, spending nothing. */
  available(now: number): boolean {
    return Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs) >= 1;
  }

  /** Whether the bucket is back to a full burst (nothing to remember). */
  full(now: number): boolean {
    return this.#tokens + (now - this.#at) * this.#perMs >= this.#burst;
  }

  #refill(now: number) {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
  }
}
