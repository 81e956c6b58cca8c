/**
 * Timers as an injectable pair, so reconnect backoff, ICE-restart waits and
 * the like run on a hand-driven clock in tests.
 *
 * @module
 */

/** The two timer functions a module needs. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The runtime's own timers. */
export const GLOBAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};
