/**
 * What an instance does when Redis forgot something. Redis's contents
 * carry an identity (`mesh:epoch`, set if missing), so a new one means
 * Redis restarted empty and the old log is gone: each instance then
 * records the op it had applied last in it (`mesh:before`), and one that
 * finds another had applied further — looked for a while, as the others
 * notice the restart in their own time — lost ops it had not read, and
 * takes the rooms again; what it appended and never saw come back is
 * appended again. An instance whose heartbeat finds it forgotten under
 * the same epoch was declared dead while away (the log may have been
 * trimmed past what it read), and takes the rooms again too.
 *
 * @module
 */

import type { Redis } from "ioredis";
import type { Logger } from "./log.ts";
import { BEFORE_TTL_MS, BEHIND_CHECK_MS, type RedisKeys } from "./redis_keys.ts";
import { compareIds, type OpStream } from "./redis_stream.ts";

/** A heartbeat as it was sent: under which epoch, and whether it was the first under it. */
export interface Beat {
  epoch: string | undefined;
  first: boolean;
}

/** What a {@linkcode RedisRecovery} works with. */
export interface RedisRecoveryOptions {
  cmd: Redis;
  keys: RedisKeys;
  /** This instance's id. */
  instance: string;
  logger: Logger;
  /** The shared order as this instance reads it: told to take the rooms again, or to read anew. */
  stream: OpStream;
}

/** The epoch this instance knows Redis by, and its place in a log Redis lost. */
export class RedisRecovery {
  readonly #options: RedisRecoveryOptions;
  #epoch: string | undefined;
  /** After Redis restarted empty: the op this instance had applied last before, while it compares. */
  #before: { applied: string; until: number } | undefined;
  /** No heartbeat went through since the epoch was adopted. */
  #unbeaten = false;

  /** Recovery through `options.keys.epoch`; it knows no epoch before {@linkcode RedisRecovery.adopt}. */
  constructor(options: RedisRecoveryOptions) {
    this.#options = options;
  }

  /**
   * The id Redis's current contents were created under (a new one after it
   * restarted empty), and whether this instance just created it (`fresh`:
   * Redis is new or restarted empty, and others may still be reconnecting).
   */
  async claim(): Promise<{ epoch: string; fresh: boolean }> {
    const { cmd, keys } = this.#options;
    const created = await cmd.set(keys.epoch, crypto.randomUUID(), "NX");
    return { epoch: (await cmd.get(keys.epoch)) ?? "", fresh: created === "OK" };
  }

  /** Knows Redis by `epoch` from now on; true when it is not the one known before. */
  adopt(epoch: string): boolean {
    if (epoch === this.#epoch) return false;
    this.#epoch = epoch;
    this.#unbeaten = true;
    return true;
  }

  /**
   * A heartbeat is sent: what it is judged by once it went through (see
   * {@linkcode RedisRecovery.beaten}).
   */
  beating(): Beat {
    const first = this.#unbeaten;
    this.#unbeaten = false;
    return { epoch: this.#epoch, first };
  }

  /**
   * A heartbeat went through, `forgotten` if this instance was not in the
   * set while it serves. The first beat under a new epoch always is (Redis
   * is new, or restarted empty), and so may one sent before Redis restarted
   * (sent again once it is back): only a later one under the epoch Redis
   * still has means the others declared this instance dead while it was
   * away, and it may have missed ops.
   */
  async beaten(forgotten: boolean, sent: Beat): Promise<void> {
    const { cmd, keys, stream } = this.#options;
    if (!forgotten || sent.first || stream.resyncWanted) return;
    if (sent.epoch === this.#epoch && (await cmd.get(keys.epoch)) === sent.epoch) {
      stream.wantResync("the others declared this instance dead; it may have missed ops");
    }
  }

  /**
   * Redis restarted empty. Was this instance behind the others when it
   * lost the log (it was stopped, or slow)? Then the ops it had not read
   * are gone with it: it takes the rooms again from one that had read
   * further (the others may notice the restart after this one: asked again
   * with each heartbeat for a while, {@linkcode RedisRecovery.behindOthers}).
   * Then it reads the new log from its start.
   */
  async restartedEmpty(): Promise<void> {
    const { cmd, keys, instance, logger, stream } = this.#options;
    this.#before = { applied: stream.applied, until: Date.now() + BEHIND_CHECK_MS };
    await cmd.hset(keys.before, instance, stream.applied);
    await cmd.pexpire(keys.before, BEFORE_TTL_MS);
    await this.behindOthers();
    logger.log("warn", "Redis lost its data (restarted empty); asserting our peers", { instance });
    await stream.restartedEmpty();
  }

  /**
   * After Redis restarted empty: if another instance had applied ops this
   * one had not read when the log was lost, they are gone with it, and this
   * instance takes the rooms again.
   */
  async behindOthers(): Promise<void> {
    const before = this.#before;
    if (before === undefined) return;
    if (Date.now() > before.until) {
      this.#before = undefined;
      return;
    }
    const { cmd, keys, instance, stream } = this.#options;
    const others = Object.entries(await cmd.hgetall(keys.before));
    if (
      others.some(([id, applied]) => id !== instance && compareIds(applied, before.applied) > 0)
    ) {
      this.#before = undefined;
      stream.wantResync("Redis restarted empty while this instance was behind");
    }
  }
}
