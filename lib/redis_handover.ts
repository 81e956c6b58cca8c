/**
 * The rooms handed between instances. A starting instance — or a running
 * one that missed ops — asks a running one on its pub/sub channel
 * (`state?`); that one writes its rooms, with the op they include, to a
 * short-lived key (a pub/sub message that large could pass Redis's output
 * limits) and announces the key (`state`). When no instance runs, the
 * first one back starts from the copy of the rooms every instance saves
 * (`mesh:rooms`), as one instance alone starts from `rooms.json`.
 *
 * @module
 */

import type { Redis } from "ioredis";
import { type BusHandlers, type ClusterState, parseClusterState } from "./cluster.ts";
import { parseRoomSnapshots, type RoomSnapshot } from "./room_snapshots.ts";
import type { Logger } from "./log.ts";
import { parseRetired, type RetiredEntries } from "./retired.ts";
import {
  HANDOVER_TTL_MS,
  type RedisKeys,
  SAVED_ROOMS_TTL_MS,
  SYNC_RETRY_MS,
} from "./redis_keys.ts";
import type { OpStream } from "./redis_stream.ts";

/** How often a starting instance on a Redis it found empty looks for running ones, ms. */
const FRESH_POLL_MS = 100;

/** An answer to `state?`: the rooms, or that the one asked is taking them again itself. */
type Answer = { applied: string; state: ClusterState } | { resyncing: string };

/** What a {@linkcode Handover} works with, and what it calls back. */
export interface HandoverOptions {
  cmd: Redis;
  keys: RedisKeys;
  /** This instance's id. */
  instance: string;
  /** How long to wait for each running instance's rooms, ms. */
  syncTimeoutMs: number;
  /**
   * On a Redis this instance found empty, how long to look for running
   * instances before starting alone, ms: after Redis restarts empty, theirs
   * reconnect and beat again only a moment later.
   */
  freshWaitMs: number;
  logger: Logger;
  /** Where this instance reads on from, once it has the rooms. */
  stream: OpStream;
  /** The other instances alive now. */
  liveOthers(): Promise<string[]>;
  /** Makes sure this instance hears its channel, where the answer comes. */
  listen(): Promise<void>;
  /**
   * Whether this instance holds rooms to hand over (`serving`: it took them
   * and follows the order), is taking them again itself (`resyncing`: what
   * it holds may be missing ops), or is still starting.
   */
  status(): "serving" | "resyncing" | "starting";
  /** Every room here, for an instance that asks. */
  exportState: BusHandlers["exportState"];
  /** Replaces every room here with another instance's. */
  importState: BusHandlers["importState"];
  /** Starts from the rooms the cluster saved. */
  restore: BusHandlers["restore"];
}

/** Taking the rooms from running instances, giving them, and the cluster's saved copy. */
export class Handover {
  readonly #options: HandoverOptions;
  #snapshot: PromiseWithResolvers<Answer> | undefined;

  /** Hand-overs on `options.cmd`; nothing is asked before {@linkcode Handover.sync}. */
  constructor(options: HandoverOptions) {
    this.#options = options;
  }

  /**
   * Takes the rooms from a running instance, or starts alone at the end of
   * the log. `fresh`: this instance found Redis empty (new, or restarted
   * empty), so running instances may not have beaten yet: it looks for them
   * a moment before starting alone.
   */
  async sync({ fresh = false }: { fresh?: boolean } = {}): Promise<void> {
    const { logger, stream } = this.#options;
    const lookUntil = fresh ? Date.now() + this.#options.freshWaitMs : 0;
    for (let round = 0;; round++) {
      const live = await this.#options.liveOthers();
      if (live.length === 0 && Date.now() < lookUntil) {
        await new Promise((resolve) => setTimeout(resolve, FRESH_POLL_MS));
        continue;
      }
      if (live.length === 0) {
        // Nobody runs: the first instance back starts from the cluster's
        // saved rooms, as one instance alone starts from `rooms.json`.
        const saved = await this.#savedRooms(Date.now());
        if (saved.rooms.length > 0 || saved.retired.length > 0) {
          this.#options.restore(saved);
          logger.log("info", "restored the rooms the cluster saved", {
            rooms: saved.rooms.length,
          });
        }
        break;
      }
      for (const other of live) {
        if (await this.#syncFrom(other) === "taken") return;
      }
      // Running instances that do not answer: starting empty would split
      // the cluster's rooms, so ask again (a dead one drops out of the set).
      logger.log("warn", "no running instance handed over its rooms; asking again", {
        round,
      });
      await new Promise((resolve) => setTimeout(resolve, SYNC_RETRY_MS));
    }
    await stream.startAtEnd();
  }

  /**
   * This instance missed ops (a gap, an op it cannot read, Redis restarted
   * empty while it was behind): it takes the rooms from a running instance,
   * as a starting one does, and its people hear what changed. False if none
   * answered (asked again on the next round).
   */
  async resync(why: string): Promise<boolean> {
    this.#options.logger.log("warn", "this instance missed room changes; taking the rooms again", {
      instance: this.#options.instance,
      why,
    });
    const live = await this.#options.liveOthers();
    const resyncing: string[] = [];
    for (const other of live) {
      const answer = await this.#syncFrom(other);
      if (answer === "taken") return true;
      if (answer === "resyncing") resyncing.push(other);
    }
    // Nobody else runs: what this instance holds is all there is.
    if (live.length === 0) return true;
    // Every other one is taking the rooms again too: they would wait for
    // each other forever. The one with the smallest id keeps its own, and
    // the others take them from it.
    const instance = this.#options.instance;
    if (resyncing.length === live.length && resyncing.every((other) => instance < other)) {
      this.#options.logger.log(
        "warn",
        "every running instance is taking the rooms again; this one keeps its own",
        {
          instance,
        },
      );
      return true;
    }
    return false;
  }

  /** A hand-over message on this instance's channel: a request for its rooms, or an answer. */
  receive(text: string): void {
    const message: unknown = JSON.parse(text);
    if (!Array.isArray(message)) return;
    const [kind, a, b] = message;
    if (kind === "state?" && typeof a === "string") {
      // A starting instance has no rooms to give, and stays silent.
      const status = this.#options.status();
      if (status === "starting") return;
      // One taking the rooms again may be missing ops: it says so rather than hand over its copy.
      const answer = status === "serving" ? this.#handOver(a) : this.#refuse(a);
      answer.catch((error) =>
        this.#options.logger.log("error", "cannot hand over the rooms", {
          to: a,
          error: String(error),
        })
      );
    } else if (kind === "resyncing" && typeof a === "string") {
      this.#snapshot?.resolve({ resyncing: a });
    } else if (kind === "state" && typeof a === "string" && typeof b === "string") {
      this.#takeOver(a, b).catch((error) => this.#snapshot?.reject(error));
    }
  }

  /**
   * Saves every room's authority and the retirements to `mesh:rooms`, kept
   * ten minutes: every instance writes the same copy when it changes, so
   * the cluster survives every instance stopping at once.
   */
  async save(rooms: RoomSnapshot[], retired: RetiredEntries): Promise<void> {
    const text = JSON.stringify({ version: 1, rooms, retired });
    await this.#options.cmd.set(this.#options.keys.rooms, text, "PX", SAVED_ROOMS_TTL_MS);
  }

  /**
   * The rooms and retirements the cluster saved last (`mesh:rooms`). None
   * (empty) if nothing was saved, it expired, or it cannot be read.
   */
  async #savedRooms(now: number): Promise<{ rooms: RoomSnapshot[]; retired: RetiredEntries }> {
    try {
      const text = await this.#options.cmd.get(this.#options.keys.rooms);
      const saved = text === null ? undefined : JSON.parse(text);
      if (saved?.version !== 1) return { rooms: [], retired: [] };
      return { rooms: parseRoomSnapshots(saved.rooms), retired: parseRetired(saved.retired, now) };
    } catch (error) {
      this.#options.logger.log("warn", "cannot read the saved rooms", { error: String(error) });
      return { rooms: [], retired: [] };
    }
  }

  /**
   * Asks `other` for its rooms: `taken` once they are loaded, `resyncing`
   * if it is taking them again itself, `none` if it did not answer in time.
   */
  async #syncFrom(other: string): Promise<"taken" | "resyncing" | "none"> {
    const { cmd, keys, logger } = this.#options;
    this.#snapshot = Promise.withResolvers();
    // The timer may reject it while the request itself still waits on a
    // stalled Redis: observed now, so that is never an unhandled rejection.
    this.#snapshot.promise.catch(() => {});
    const timeout = setTimeout(
      () => this.#snapshot?.reject(new Error("no answer")),
      this.#options.syncTimeoutMs,
    );
    try {
      await this.#options.listen();
      await cmd.publish(keys.channel(other), JSON.stringify(["state?", this.#options.instance]));
      const answer = await this.#snapshot.promise;
      if ("resyncing" in answer) {
        logger.log("info", "a running instance is taking the rooms again itself", { from: other });
        return "resyncing";
      }
      this.#options.importState(answer.state);
      this.#options.stream.startAt(answer.applied);
      logger.log("info", "took the rooms from a running instance", { from: other });
      return "taken";
    } catch {
      logger.log("warn", "a running instance did not hand over its rooms", { from: other });
      return "none";
    } finally {
      clearTimeout(timeout);
      this.#snapshot = undefined;
    }
  }

  /**
   * Hands this instance's rooms to a starting one: in a short-lived key,
   * with the op they include, announced on its channel.
   */
  async #handOver(to: string) {
    const { cmd, keys } = this.#options;
    const key = keys.state(to);
    const applied = this.#options.stream.applied;
    await cmd.set(key, JSON.stringify(this.#options.exportState()), "PX", HANDOVER_TTL_MS);
    await cmd.publish(keys.channel(to), JSON.stringify(["state", applied, key]));
  }

  /** Tells a starting or resyncing instance that this one is taking the rooms again too. */
  async #refuse(to: string) {
    const { cmd, keys } = this.#options;
    await cmd.publish(keys.channel(to), JSON.stringify(["resyncing", this.#options.instance]));
  }

  /** The rooms a running instance handed over, from their key. */
  async #takeOver(applied: string, key: string) {
    const text = await this.#options.cmd.get(key);
    await this.#options.cmd.del(key);
    const state = text === null ? undefined : parseClusterState(JSON.parse(text));
    if (state === undefined) throw new TypeError(`Cannot load the rooms in ${key}`);
    this.#snapshot?.resolve({ applied, state });
  }
}
