/**
 * Ordering behind async work: a connection's frames that arrive while one
 * of its steps runs (a password hash, a budget counted in Redis, a resume
 * through the shared order) wait, and are dispatched in order once it ends,
 * so nothing overtakes the frame that started the step.
 *
 * @module
 */

import type { Link, PeerRecord } from "./link.ts";
import type { ClientMessage } from "./protocol.ts";
import type { Verdict } from "./rate_limit.ts";

/** What {@linkcode Steps} needs. */
export interface StepsOptions {
  /** Whether `peer` is still a live identity (its step's result still matters). */
  holds(peer: PeerRecord): boolean;
  /** Handles a frame that waited. */
  dispatch(link: Link, peer: PeerRecord, message: ClientMessage): void;
  failed(peerId: string, error: unknown): void;
}

/** Runs a connection's async steps, its later frames waiting behind each. */
export class Steps {
  readonly #o: StepsOptions;

  constructor(options: StepsOptions) {
    this.#o = options;
  }

  /**
   * Runs `then` with a budget's answer: at once when it is known here, or
   * (a budget counted in Redis) once it comes, the link's later frames
   * waiting meanwhile.
   */
  spend<T>(link: Link, verdict: Verdict<T>, then: (value: T) => void): void {
    if (verdict instanceof Promise) this.after(link, verdict, then);
    else then(verdict);
  }

  /** Runs `then` once `work` settles, if the link still speaks for the same live peer. */
  after<T>(link: Link, work: Promise<T>, then: (value: T) => void): void {
    const peer = link.peer;
    link.wait();
    work.then((value) => {
      if (peer !== null && link.peer === peer && this.#o.holds(peer)) then(value);
    }).catch((error) => this.#o.failed(link.peerId, error)).finally(() => this.drain(link));
  }

  /**
   * A step of `link`'s ended: handles the frames that waited behind it, in
   * order, until one starts another step or the link stops speaking for a
   * peer (closed).
   */
  drain(link: Link): void {
    const waiting = link.done();
    for (let i = 0; i < waiting.length; i++) {
      const current = link.peer;
      if (current === null) return;
      this.#o.dispatch(link, current, waiting[i]);
      if (link.busy) return link.requeue(waiting.slice(i + 1));
    }
  }
}
