/**
 * Room authority: who hosts each room, whether it is locked, who is
 * knocking, its password hash and the browsers removed from it. Pure state
 * and rules — no sockets, no timers, the clock injected — consulted by
 * `membership.ts` at every admission and told of every entry and exit; the
 * hub checks host actions here. Keyed by peer id, which outlives a
 * connection (resume tokens), so the state can be saved and survive a
 * restart (`saved_rooms.ts`). See "Room authority" in docs/protocol.md.
 *
 * This module holds the rules — who may enter, what an entry, an exit, a
 * knock or a host's action changes — over the parts of the rooms
 * (`room_parts.ts`), each of which keeps its own state: the roster of
 * members, hosts and lock, pending knocks, passwords, removed browsers.
 * Saving and restoring them, and the wait for members after a restart, is
 * `room_snapshots.ts`.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import type { Knock, KnockOutcome } from "./knocks.ts";
import type { PasswordRecord } from "./password.ts";
import type { Door, KnockEntry, RoomState } from "./protocol.ts";
import { type Change, RoomParts } from "./room_parts.ts";
import { type RoomSnapshot, RoomSnapshots } from "./room_snapshots.ts";

export type { Knock, KnockOutcome } from "./knocks.ts";
export type { Change } from "./room_parts.ts";
export { parseRoomSnapshots, type RoomSnapshot } from "./room_snapshots.ts";

/** How a peer comes to enter a room. */
export type Entry =
  /** A `join`: lock, removal and password apply. */
  | "join"
  /** Let in by a host: bypasses lock, removal and password. */
  | "admitted"
  /** A resume rejoining a room it was in (after a restart). */
  | "rejoin";

/** Whether a peer may enter (capacity aside), or which refusal applies. */
export type Admission =
  | { ok: true; verify?: PasswordRecord }
  | { ok: false; code: "room_locked" | "password_required" };

/** Options of an {@linkcode Authority}; every field has a default. */
export interface AuthorityOptions {
  /** Pending knocks one room holds. Default 50. */
  maxKnocksPerRoom?: number;
  /** Rooms saved before a restart; their members come back by resuming. */
  restored?: Iterable<RoomSnapshot>;
  /**
   * How long restored rooms wait for their members to resume before
   * hosts and knocks of those who did not are dropped, ms. Default 25,000.
   */
  restoreGraceMs?: number;
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
}

const NO_CHANGE: Change = { hosts: false, knocks: false, newHosts: [] };
/** Let in, nothing to check (most joins: one object for all). */
const ADMITTED: Admission = Object.freeze({ ok: true });

/** Per-room hosts, lock, knocks, password and removed browsers. */
export class Authority {
  readonly #rooms: RoomParts;
  readonly #snapshots: RoomSnapshots;
  readonly #now: () => number;

  /** An authority with `options`, each defaulting as {@linkcode AuthorityOptions} says. */
  constructor(options: AuthorityOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#rooms = new RoomParts({
      maxKnocksPerRoom: options.maxKnocksPerRoom ?? DEFAULTS.maxKnocksPerRoom,
      now: this.#now,
    });
    this.#snapshots = new RoomSnapshots(this.#rooms, {
      now: this.#now,
      graceMs: options.restoreGraceMs ?? DEFAULTS.resumeWindowSeconds * 1000,
    });
    this.restore(options.restored ?? []);
  }

  /**
   * Takes rooms saved before a restart: their members come back by
   * resuming, and are expected until the grace ends.
   */
  restore(rooms: Iterable<RoomSnapshot>): void {
    this.#snapshots.restore(rooms);
  }

  /**
   * Replaces every room with `rooms` as they are now on another instance
   * of the cluster (members present, not expected).
   */
  load(rooms: Iterable<RoomSnapshot>): void {
    this.#snapshots.load(rooms);
  }

  /** Bumped on every change, so a saver knows when to write. */
  get version(): number {
    return this.#rooms.version;
  }

  /** Rooms with authority state. */
  get roomCount(): number {
    return this.#rooms.roster.size;
  }

  /** Whether `peerId` may enter `channel` now, capacity aside. */
  admit(
    channel: string,
    peerId: string,
    { entry, browser, password }: { entry: Entry; browser?: string; password?: string },
  ): Admission {
    const { roster, hosts, browsers, passwords } = this.#rooms;
    if (!roster.has(channel) || entry === "admitted") return ADMITTED;
    // A resume rejoins, past the lock and the password, only a room this
    // identity is known to have been in: a valid token proves who, not
    // where. Anywhere else it is a newcomer like any join.
    if (entry === "rejoin" && roster.knows(channel, peerId)) return ADMITTED;
    if (hosts.isLocked(channel) || browsers.isRemoved(channel, browser)) {
      return { ok: false, code: "room_locked" };
    }
    const record = passwords.of(channel);
    if (record === null) return ADMITTED;
    if (password === undefined || entry === "rejoin") {
      return { ok: false, code: "password_required" };
    }
    return { ok: true, verify: record };
  }

  /** What a newcomer's join meets, as `door` says it: a lock (or removed browser) first. */
  doorOf(channel: string, browser?: string): Door {
    const { roster, hosts, passwords, browsers } = this.#rooms;
    if (!roster.has(channel)) return "open";
    if (hosts.isLocked(channel) || browsers.isRemoved(channel, browser)) return "locked";
    return passwords.of(channel) === null ? "open" : "password";
  }

  /** The rooms whose door may have changed since the last call (`true`: any room). */
  takeDoorChanges(): ReadonlySet<string> | true {
    return this.#rooms.takeDoorChanges();
  }

  /** Whether `peerId` is a member of `channel` (away too) or expected back after a restart. */
  knows(channel: string, peerId: string): boolean {
    return this.#rooms.roster.knows(channel, peerId);
  }

  /** The other members of `channel` who entered with the same browser as `peerId`. */
  sameBrowser(channel: string, peerId: string): string[] {
    return this.#rooms.browsers.sameBrowser(channel, peerId);
  }

  /** `peerId`'s pending knock on `channel`, if any. */
  knockOf(channel: string, peerId: string): Knock | undefined {
    return this.#rooms.knocks.get(channel, peerId);
  }

  /** The password record a join must match now (null: none). */
  passwordOf(channel: string): PasswordRecord | null {
    return this.#rooms.passwords.of(channel);
  }

  /** Records that `peerId` entered `channel`: the first one in becomes host. */
  entered(channel: string, peerId: string, { browser }: { browser?: string } = {}): Change {
    const rooms = this.#rooms;
    rooms.roster.enter(channel, peerId);
    if (browser !== undefined) rooms.browsers.entered(channel, peerId, browser);
    const knocks = rooms.knocks.take(channel, peerId) !== undefined;
    const newHosts = rooms.passHost(channel);
    rooms.changed();
    return { hosts: newHosts.length > 0, knocks, newHosts };
  }

  /**
   * Records that `peerId` left `channel` for good (part, Leave, removal,
   * resume window passed): if it was the last host present, the member
   * present longest becomes host at once.
   */
  left(channel: string, peerId: string): Change {
    const rooms = this.#rooms;
    if (!rooms.roster.leave(channel, peerId)) return NO_CHANGE;
    rooms.browsers.left(channel, peerId);
    const wasHost = rooms.hosts.remove(channel, peerId);
    const newHosts = wasHost ? rooms.passHost(channel) : [];
    rooms.changed();
    rooms.dropIfIdle(channel);
    return { hosts: wasHost, knocks: false, newHosts };
  }

  /** Queues `knock` on `channel`, or says the knocker may simply enter. */
  knock(channel: string, knock: Knock): KnockOutcome {
    const { roster, hosts, browsers, passwords, knocks } = this.#rooms;
    if (!roster.has(channel)) return "enter";
    const removed = browsers.isRemoved(channel, knock.browser);
    if (!hosts.isLocked(channel) && !removed && passwords.of(channel) === null) return "enter";
    if (knocks.add(channel, knock) === "full") return "full";
    this.#rooms.changed();
    return "queued";
  }

  /** Takes `peerId`'s pending knock on `channel` (admit, deny, withdraw); undefined if none. */
  takeKnock(channel: string, peerId: string): Knock | undefined {
    const knock = this.#rooms.knocks.take(channel, peerId);
    if (knock === undefined) return;
    this.#rooms.changed();
    this.#rooms.dropIfIdle(channel);
    return knock;
  }

  /** Drops every pending knock of `peerId` (gone for good); the channels whose list changed. */
  forget(peerId: string): string[] {
    const rooms = this.#rooms;
    // While restored rooms wait, `peerId` may be expected in any of them.
    const channels = this.#snapshots.waiting
      ? rooms.roster.channels()
      : rooms.knocks.knockingOn(peerId);
    const changed = rooms.knocks.forget(peerId, channels);
    for (const channel of channels) {
      if (!rooms.roster.unexpect(channel, peerId) && !changed.includes(channel)) continue;
      rooms.changed();
      rooms.dropIfIdle(channel);
    }
    return changed;
  }

  /** Whether `peerId` is knocking on `channel`. */
  isKnocking(channel: string, peerId: string): boolean {
    return this.#rooms.knocks.has(channel, peerId);
  }

  /** Whether `peerId` holds the host role in `channel`. */
  isHost(channel: string, peerId: string): boolean {
    return this.#rooms.hosts.isHost(channel, peerId);
  }

  /** Makes member `peerId` a host too; false if it already was (or is no member). */
  makeHost(channel: string, peerId: string): boolean {
    const { roster, hosts } = this.#rooms;
    if (!roster.isMember(channel, peerId) || !hosts.add(channel, peerId)) return false;
    this.#rooms.changed();
    return true;
  }

  /** Locks or unlocks `channel`; false if nothing changed. */
  setLocked(channel: string, locked: boolean): boolean {
    if (!this.#rooms.roster.has(channel) || !this.#rooms.hosts.setLocked(channel, locked)) {
      return false;
    }
    this.#rooms.changed();
    this.#rooms.doorChanged(channel);
    return true;
  }

  /** Sets or clears `channel`'s password hash; false if the room has no state. */
  setPassword(channel: string, password: PasswordRecord | null): boolean {
    if (!this.#rooms.roster.has(channel)) return false;
    this.#rooms.passwords.set(channel, password);
    this.#rooms.changed();
    this.#rooms.doorChanged(channel);
    return true;
  }

  /** Remembers the browser `peerId` entered with: its joins count as knocks this meeting. */
  rememberRemoved(channel: string, peerId: string): void {
    if (!this.#rooms.browsers.remove(channel, peerId)) return;
    this.#rooms.changed();
    this.#rooms.doorChanged(channel);
  }

  /** What every member is told in `roomState`; undefined for a room without state. */
  stateOf(channel: string): RoomState | undefined {
    const { roster, hosts, passwords } = this.#rooms;
    if (!roster.has(channel)) return;
    return {
      channel,
      hosts: hosts.of(channel),
      locked: hosts.isLocked(channel),
      password: passwords.of(channel) !== null,
    };
  }

  /** The hosts of `channel`. */
  hostsOf(channel: string): string[] {
    return this.#rooms.hosts.of(channel);
  }

  /** The pending knocks of `channel`, oldest first, as hosts see them. */
  knocksOf(channel: string): KnockEntry[] {
    return this.#rooms.knocks.entries(channel);
  }

  /**
   * Ends the grace of restored rooms whose time has come: members who did
   * not resume are forgotten, with their host role and their knocks (a
   * knocker is kept if `holds` it), and a room left without a host present
   * passes the role on. Also drops rooms nobody is in. Returns what changed.
   */
  sweep(holds: (peerId: string) => boolean, now: number = this.#now()): Map<string, Change> {
    return this.#snapshots.sweep(holds, now);
  }

  /** Whether the wait for some restored room's members has ended by `now` (a sweep is due). */
  sweepDue(now: number): boolean {
    return this.#snapshots.sweepDue(now);
  }

  /** Every room's state, for saving. */
  snapshot(): RoomSnapshot[] {
    return this.#snapshots.take();
  }
}
