/**
 * Pending knocks: who waits at which room's door, oldest first, at most a
 * room's cap of them, and for each knocker the doors it waits at (so a
 * disconnect does not scan every room). Part of the room authority
 * (`authority.ts` decides when a knock is queued and when a room ends).
 *
 * @module
 */

import type { KnockEntry, UserData } from "./protocol.ts";

/** A pending request to enter a locked room. */
export interface Knock {
  peerId: string;
  /** The cleaned display name hosts see. */
  name: string;
  /** What the admitted join is made with. */
  userdata: UserData;
  browser?: string;
}

/** What a knock did. */
export type KnockOutcome =
  /** Nothing keeps the knocker out: it joins at once. */
  | "enter"
  /** Queued (or already queued): hosts decide. */
  | "queued"
  /** The room has too many pending knocks. */
  | "full";

/** Every room's pending knocks, indexed by knocker. */
export class Knocks {
  /** channel → knocker → knock, oldest first. */
  #rooms = new Map<string, Map<string, Knock>>();
  /** knocker → the channels it knocks on. */
  #knocking = new Map<string, Set<string>>();
  readonly #max: number;

  /** Knocks of at most `maxPerRoom` per room. */
  constructor(maxPerRoom: number) {
    this.#max = maxPerRoom;
  }

  /** Queues `knock` on `channel` (a knocker already queued keeps its place), unless the room is full. */
  add(channel: string, knock: Knock): "queued" | "full" {
    const knocks = this.#rooms.get(channel) ?? new Map<string, Knock>();
    if (!knocks.has(knock.peerId) && knocks.size >= this.#max) return "full";
    this.#rooms.set(channel, knocks);
    knocks.set(knock.peerId, knock);
    this.#index(knock.peerId, channel, true);
    return "queued";
  }

  /** `peerId`'s pending knock on `channel`, if any. */
  get(channel: string, peerId: string): Knock | undefined {
    return this.#rooms.get(channel)?.get(peerId);
  }

  /** Whether `peerId` is knocking on `channel`. */
  has(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.has(peerId) ?? false;
  }

  /** Takes `peerId`'s pending knock on `channel`; undefined if none. */
  take(channel: string, peerId: string): Knock | undefined {
    const knocks = this.#rooms.get(channel);
    const knock = knocks?.get(peerId);
    if (knocks === undefined || knock === undefined) return;
    knocks.delete(peerId);
    this.#index(peerId, channel, false);
    return knock;
  }

  /** The channels `peerId` knocks on. */
  knockingOn(peerId: string): string[] {
    return [...(this.#knocking.get(peerId) ?? [])];
  }

  /**
   * Drops every pending knock of `peerId` on `channels` and forgets where
   * it knocks; the channels whose list changed, in that order.
   */
  forget(peerId: string, channels: string[]): string[] {
    this.#knocking.delete(peerId);
    return channels.filter((channel) => this.#rooms.get(channel)?.delete(peerId) ?? false);
  }

  /**
   * Keeps only the knocks on `channel` whose knocker `keep` says (asked
   * oldest first); whether any was dropped.
   */
  keepOnly(channel: string, keep: (peerId: string) => boolean): boolean {
    const knocks = this.#rooms.get(channel);
    let dropped = false;
    for (const id of knocks?.keys() ?? []) {
      if (keep(id)) continue;
      knocks!.delete(id);
      this.#index(id, channel, false);
      dropped = true;
    }
    return dropped;
  }

  /** How many knocks `channel` holds. */
  count(channel: string): number {
    return this.#rooms.get(channel)?.size ?? 0;
  }

  /** The pending knocks of `channel`, oldest first. */
  list(channel: string): Knock[] {
    return [...(this.#rooms.get(channel)?.values() ?? [])];
  }

  /** The pending knocks of `channel`, oldest first, as hosts see them. */
  entries(channel: string): KnockEntry[] {
    return [...(this.#rooms.get(channel)?.values() ?? [])].map((k) => ({
      peer_id: k.peerId,
      name: k.name,
    }));
  }

  /** Sets `channel`'s pending knocks to `knocks` (a restored room). */
  put(channel: string, knocks: Iterable<Knock>): void {
    const queue = new Map<string, Knock>();
    this.#rooms.set(channel, queue);
    for (const knock of knocks) {
      queue.set(knock.peerId, knock);
      this.#index(knock.peerId, channel, true);
    }
  }

  /** Forgets `channel` (its room ended with nobody knocking). */
  drop(channel: string): void {
    this.#rooms.delete(channel);
  }

  /** Forgets every knock. */
  clear(): void {
    this.#rooms.clear();
    this.#knocking.clear();
  }

  #index(peerId: string, channel: string, knocking: boolean) {
    let channels = this.#knocking.get(peerId);
    if (knocking) {
      if (channels === undefined) this.#knocking.set(peerId, channels = new Set());
      channels.add(channel);
    } else if (channels?.delete(channel) && channels.size === 0) {
      this.#knocking.delete(peerId);
    }
  }
}
