/**
 * Waiting in client tests without sleeping: {@linkcode until} lets the
 * event loop run (the fakes finish their work in later tasks) until a
 * condition holds, and fails naming what never happened. {@linkcode ManualTimers}
 * replaces the injected `Timers` with a clock the test fires by hand.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Timers } from "../client/_timers.ts";

/** Options for {@linkcode until}. */
export interface UntilOptions {
  /** Event-loop turns to allow before failing. Default 500. */
  turns?: number;
}

/**
 * Resolves as soon as `condition()` is true, letting the event loop run
 * one task at a time in between; rejects with "Timed out waiting for
 * <what>" if it stays false for `turns` tasks.
 */
export async function until(
  condition: () => boolean,
  what: string,
  { turns = 500 }: UntilOptions = {},
): Promise<void> {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  if (!condition()) throw new Error(`Timed out waiting for ${what} (${turns} event-loop turns)`);
}

/** Timers the test fires by hand. */
export class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  #next = 0;
  setTimeout = (fn: () => void, ms: number): unknown => {
    this.pending.set(++this.#next, { fn, ms });
    return this.#next;
  };
  clearTimeout = (id: unknown) => {
    this.pending.delete(id as number);
  };
  /** Fires the one pending timer and returns its delay. */
  fire(): number {
    assert.equal(this.pending.size, 1, "exactly one timer pending");
    const [[id, { fn, ms }]] = this.pending;
    this.pending.delete(id);
    fn();
    return ms;
  }
}
