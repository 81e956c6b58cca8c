/**
 * Relays between instances: a frame for a peer connected to another
 * instance is one PUBLISH on that instance's channel, in plain lines —
 * `m`, the last op the sender had applied, the peer, the text — not JSON,
 * so the frame's text is not escaped again. The receiver holds it until
 * it has applied that op too, so an `addPeer` is never overtaken by what
 * follows it; at most `MAX_GATE_MS`, and at most `MAX_GATED` frames at
 * once (beyond it the oldest go through).
 *
 * @module
 */

import type { Redis } from "ioredis";
import type { BusHandlers } from "./cluster.ts";
import { MAX_GATE_MS, MAX_GATED, type RedisKeys } from "./redis_keys.ts";
import { compareIds, type OpStream } from "./redis_stream.ts";

/** What a {@linkcode RedisRelays} works with, and what it calls back. */
export interface RedisRelaysOptions {
  /** Publishes (queued while Redis is away). */
  cmd: Redis;
  keys: RedisKeys;
  /** How far this instance has read the shared order. */
  stream: Pick<OpStream, "applied">;
  /** Hands a frame to a peer connected here. */
  deliver: BusHandlers["deliver"];
}

/** A relayed frame waiting until this instance has applied what its sender had. */
interface Gated {
  after: string;
  peerId: string;
  text: string;
  at: number;
}

/** Frames relayed to and from other instances, and those waiting for ops here. */
export class RedisRelays {
  readonly #options: RedisRelaysOptions;
  #gated: Gated[] = [];

  /** Relays on `options.cmd`; what arrives goes to `options.deliver`. */
  constructor(options: RedisRelaysOptions) {
    this.#options = options;
  }

  /** Publishes a frame's text for `peerId`, connected to `instance`. */
  send(instance: string, peerId: string, text: string): void {
    // Plain lines, not JSON: the frame's text is not escaped again.
    const message = `m\n${this.#options.stream.applied}\n${peerId}\n${text}`;
    this.#options.cmd.publish(this.#options.keys.channel(instance), message).catch(() => {});
  }

  /**
   * Takes a message from this instance's channel if it is a relayed frame
   * (delivered now, or held until its op is applied here); false if it is
   * not one.
   */
  receive(text: string): boolean {
    if (!text.startsWith("m\n")) return false;
    const afterEnd = text.indexOf("\n", 2);
    const peerEnd = text.indexOf("\n", afterEnd + 1);
    if (afterEnd < 0 || peerEnd < 0) return true;
    const after = text.slice(2, afterEnd);
    const peerId = text.slice(afterEnd + 1, peerEnd);
    const applied = this.#options.stream.applied;
    // Usually both instances are at the same op: nothing to wait for.
    if (this.#gated.length === 0 && (after === applied || compareIds(after, applied) <= 0)) {
      this.#options.deliver(peerId, text.slice(peerEnd + 1));
      return true;
    }
    this.#gated.push({ after, peerId, text: text.slice(peerEnd + 1), at: Date.now() });
    if (this.#gated.length > MAX_GATED) this.#release(-Infinity, 1);
    this.#release();
    return true;
  }

  /** Hands over the frames whose ops are applied here now. */
  release(): void {
    this.#release();
  }

  /** Hands over the frames that waited `MAX_GATE_MS` by `now`: their ops may never come. */
  expire(now: number): void {
    this.#release(now - MAX_GATE_MS);
  }

  /**
   * Hands over relayed frames, in arrival order, once this instance has
   * applied the ops their sender had (or they waited since `olderThan`,
   * or `count` must go to make room).
   */
  #release(olderThan = -Infinity, count = 0) {
    let i = 0;
    while (i < this.#gated.length) {
      const next = this.#gated[i];
      if (
        i >= count && next.at > olderThan &&
        compareIds(next.after, this.#options.stream.applied) > 0
      ) break;
      this.#options.deliver(next.peerId, next.text);
      i++;
    }
    if (i > 0) this.#gated = this.#gated.slice(i);
  }
}
