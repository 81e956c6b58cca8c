/**
 * The shared order of room changes: one Redis stream that every instance
 * appends its ops to and reads in full. {@linkcode OpStream} appends
 * (trimmed by length as it goes; the trim by age runs in the heartbeat
 * script, `redis_heartbeat.ts`), follows the stream and applies each op,
 * keeps what it appended until it comes back (Redis may lose it), and
 * notices when it missed ops — a gap (ops trimmed before it read them),
 * an op it cannot read, or a reason it is given — and then has the rooms
 * taken again before it applies another op.
 *
 * @module
 */

import type { Redis } from "ioredis";
import { type Op, parseOp } from "./cluster.ts";
import type { Logger } from "./log.ts";
import { READ_BLOCK_MS, READ_COUNT, READ_RETRY_MS, type RedisKeys } from "./redis_keys.ts";

/** Compares two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split("-");
  const [bMs, bSeq] = b.split("-");
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}

/** What an {@linkcode OpStream} works with, and what it calls back. */
export interface OpStreamOptions {
  /** Appends (queued while Redis is away, sent when it is back). */
  cmd: Redis;
  /** The blocking read, on a connection of its own. */
  reader: Redis;
  keys: RedisKeys;
  /** Ops the stream keeps (about), as the argument of `MAXLEN ~`. */
  maxLog: string;
  logger: Logger;
  /** Applies one op of the shared order. */
  apply(op: Op): void;
  /** Proposes again every peer connected here: ops lost with Redis may have held them. */
  reassert(): void;
  /** Takes the rooms from a running instance; false if none answered (tried again next round). */
  resync(why: string): Promise<boolean>;
  /** A batch of ops was applied: relays that waited for them may go. */
  caughtUp(): void;
  /** A read failed (Redis away or stalled); it is tried again. */
  failed(error: unknown): void;
  /**
   * The reading connection was lost: Redis may have restarted empty
   * meanwhile. Resolves once the bus has compared Redis's epoch (and, for a
   * new one, recorded where this instance stood in the lost log and reset
   * this stream), so the first read after a reconnect is never one of a new
   * log from a place in the old one.
   */
  checkEpoch(): Promise<void>;
}

/** This instance's reader of the shared order, and its appender. */
export class OpStream {
  readonly #options: OpStreamOptions;
  /** The last op applied here. */
  #applied = "0-0";
  /** Ops this instance appended that have not come back yet, by stream id. */
  #inflight = new Map<string, Op>();
  /** After Redis restarted empty: our peers are asserted once this op (the last lost one) is applied. */
  #reassertAfter: string | undefined;
  /** Why this instance must take the rooms again before it applies more ops. */
  #resyncWanted: string | undefined;
  /** The reading connection was lost since the last read: the epoch is compared before the next. */
  #reconnected = false;
  #running = true;

  /** A stream on `options.keys.log`; nothing is read before {@linkcode OpStream.follow}. */
  constructor(options: OpStreamOptions) {
    this.#options = options;
  }

  /** The last op applied here (relays and heartbeats carry it). */
  get applied(): string {
    return this.#applied;
  }

  /** Whether the rooms must be taken again before the next op is applied. */
  get resyncWanted(): boolean {
    return this.#resyncWanted !== undefined;
  }

  /** Has the rooms taken again before the next op is applied; `why` goes to the log. */
  wantResync(why: string): void {
    this.#resyncWanted = why;
  }

  /** Reads on after `applied`: the rooms here are those as of that op. */
  startAt(applied: string): void {
    this.#applied = applied;
  }

  /** Reads on after the stream's last op (this instance starts with no one to take rooms from). */
  async startAtEnd(): Promise<void> {
    const last = await this.#options.cmd.xrevrange(this.#options.keys.log, "+", "-", "COUNT", 1);
    this.#applied = last[0]?.[0] ?? "0-0";
  }

  /** Appends `op` to the shared order; resolves with its id (null when it could not be). */
  append(op: Op): Promise<string | null> {
    return this.#options.cmd.xadd(
      this.#options.keys.log,
      "MAXLEN",
      "~",
      this.#options.maxLog,
      "*",
      "op",
      JSON.stringify(op),
    ).then((id) => {
      // Kept until it comes back, in case Redis loses it first.
      if (id !== null && compareIds(id, this.#applied) > 0) this.#inflight.set(id, op);
      return id;
    }).catch((error: Error) => {
      this.#options.logger.log("error", "cannot append a room change", {
        op: op.op,
        error: error.message,
      });
      return null;
    });
  }

  /**
   * Redis restarted empty: reads the new log from its start, appends again
   * what this instance appended and never saw come back (lost with the old
   * log), and asserts this instance's peers only once those are applied:
   * an assertion made before them would still hold a room a lost `part`
   * left, and bring its person back in.
   */
  async restartedEmpty(): Promise<void> {
    // A new, empty log: its ids may be below the old ones (another clock).
    this.#applied = "0-0";
    const lost = [...this.#inflight.values()];
    this.#inflight.clear();
    const ids = (await Promise.all(lost.map((op) => this.append({ ...op, replayed: true }))))
      .filter((id) => id !== null).sort(compareIds);
    const last = ids.at(-1);
    if (last === undefined || compareIds(this.#applied, last) >= 0) this.#options.reassert();
    else this.#reassertAfter = last;
  }

  /**
   * The reading connection closed (its pending read fails): the next read
   * waits for the epoch to be compared. Until then `applied` stays a place
   * in the log as it was, which is what the instance records if Redis
   * turns out to have restarted empty.
   */
  connectionLost(): void {
    this.#reconnected = true;
  }

  /** Reads the shared order and applies it, until {@linkcode OpStream.stop}. */
  async follow(): Promise<void> {
    while (this.#running) {
      try {
        // Lost again while comparing: compared again, so nothing is read unchecked.
        while (this.#reconnected) {
          this.#reconnected = false;
          await this.#options.checkEpoch().catch((error) => {
            this.#reconnected = true;
            throw error;
          });
        }
        const batch = await this.#options.reader.xread(
          "COUNT",
          READ_COUNT,
          "BLOCK",
          READ_BLOCK_MS,
          "STREAMS",
          this.#options.keys.log,
          this.#applied,
        );
        if (this.#resyncWanted === undefined && (batch?.[0]?.[1].length ?? 0) > 0) {
          if (await this.#missedSome()) {
            this.#resyncWanted = "ops were trimmed before this instance read them";
          }
        }
        if (this.#resyncWanted !== undefined) {
          if (await this.#options.resync(this.#resyncWanted)) this.#resyncWanted = undefined;
          continue;
        }
        for (const [, entries] of batch ?? []) {
          for (const [id, fields] of entries) {
            this.#applied = id;
            this.#inflight.delete(id);
            if (!this.#applyEntry(fields)) {
              this.#resyncWanted = `an op it cannot read (${id})`;
              break;
            }
            if (this.#reassertAfter !== undefined && compareIds(id, this.#reassertAfter) >= 0) {
              this.#reassertAfter = undefined;
              this.#options.reassert();
            }
          }
        }
        this.#options.caughtUp();
      } catch (error) {
        if (!this.#running) return;
        this.#options.failed(error);
        await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
      }
    }
  }

  /** Stops reading (the connection is dropped by its owner). */
  stop(): void {
    this.#running = false;
  }

  /** Applies one entry; false if it cannot be read (then this instance's rooms may be wrong). */
  #applyEntry(fields: string[]): boolean {
    let op: Op | undefined;
    try {
      op = parseOp(JSON.parse(fields[fields.indexOf("op") + 1]));
    } catch {
      op = undefined;
    }
    if (op === undefined) return false;
    this.#options.apply(op);
    return true;
  }

  /** Whether ops after the one applied last were trimmed before this instance read them. */
  async #missedSome(): Promise<boolean> {
    if (this.#applied === "0-0") return false;
    const info = await this.#options.reader.xinfo("STREAM", this.#options.keys.log) as unknown[];
    const at = info.indexOf("max-deleted-entry-id");
    const deleted = at === -1 ? undefined : info[at + 1];
    return typeof deleted === "string" && compareIds(deleted, this.#applied) > 0;
  }
}
