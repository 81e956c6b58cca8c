/**
 * Budgets shared by many connections (an address's, a room's, a
 * browser's): what a budget is, the {@linkcode BudgetStore} that counts
 * them — this process's ({@linkcode LocalBudgets}), or Redis's in a
 * cluster (`redis_budgets.ts`), so that N instances do not give N times the
 * budget — and the {@linkcode Verdict} a store answers with, which may be a
 * promise then. Pure arithmetic on an injected clock: no sockets, no timers.
 *
 * @module
 */

import { TokenBucket } from "./token_bucket.ts";

/** A budget many connections share: its name (part of the key), burst and refill per ms. */
export interface Budget {
  readonly name: string;
  readonly burst: number;
  readonly perMs: number;
}

/** A shared budget's answer: at once here, or once Redis answered in a cluster. */
export type Verdict<T = boolean> = T | Promise<T>;

/**
 * Where budgets shared by several connections are counted, by budget and
 * key (an address group, a room, a browser): in this process, or in Redis
 * so every instance of a cluster spends from one count.
 */
export interface BudgetStore {
  /** Spends one action of `budget` for `key` if one is left. */
  take(budget: Budget, key: string, now: number): Verdict;
  /** Gives back an action {@linkcode BudgetStore.take} spent (it turned out free). */
  giveBack(budget: Budget, key: string, now: number): void;
  /** Empties `key`'s budget: it refills from now (a wait imposed, as after a deny). */
  drain(budget: Budget, key: string, now: number): void;
  /** Whether `key` has an action left, spending nothing (a wait looked at). */
  peek(budget: Budget, key: string, now: number): Verdict;
  /** Forgets budgets that refilled (they would start full anyway). */
  sweep(now: number): void;
}

/** Shared budgets in this process: one bucket per budget and key, made on first use. */
export class LocalBudgets implements BudgetStore {
  /** By budget, then key: no string is built per take on the join path. */
  #buckets = new Map<Budget, Map<string, TokenBucket>>();

  /** Budgets remembered now (still refilling). */
  get size(): number {
    let size = 0;
    for (const byKey of this.#buckets.values()) size += byKey.size;
    return size;
  }

  take(budget: Budget, key: string, now: number): boolean {
    return this.#bucket(budget, key, now).take(now);
  }

  giveBack(budget: Budget, key: string): void {
    this.#buckets.get(budget)?.get(key)?.giveBack();
  }

  drain(budget: Budget, key: string, now: number): void {
    this.#bucket(budget, key, now).drain(now);
  }

  peek(budget: Budget, key: string, now: number): boolean {
    return this.#buckets.get(budget)?.get(key)?.available(now) ?? true;
  }

  sweep(now: number): void {
    for (const [budget, byKey] of this.#buckets) {
      for (const [key, bucket] of byKey) if (bucket.full(now)) byKey.delete(key);
      if (byKey.size === 0) this.#buckets.delete(budget);
    }
  }

  #bucket(budget: Budget, key: string, now: number): TokenBucket {
    let byKey = this.#buckets.get(budget);
    if (byKey === undefined) this.#buckets.set(budget, byKey = new Map());
    let bucket = byKey.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(budget.burst, budget.perMs, now);
      byKey.set(key, bucket);
    }
    return bucket;
  }
}

/** All of `verdicts`, at once if every one is known now. */
export function allOf<T>(verdicts: Verdict<T>[]): Verdict<T[]> {
  return verdicts.some((v) => v instanceof Promise) ? Promise.all(verdicts) : verdicts as T[];
}
