/**
 * Room authority: who hosts each room, whether it is locked, who is
 * knocking, its password hash and the browsers removed from it. Pure state
 * and rules — no sockets, no timers, the clock injected — consulted by
 * `membership.ts` at every admission and told of every entry and exit; the
 * hub checks host actions here. Keyed by peer id, which outlives a
 * connection (resume tokens), so the state can be saved and survive a
 * restart (`saved_rooms.ts`). See "Room authority" in docs/protocol.md.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import { parsePasswordRecord, type PasswordRecord } from "./password.ts";
import {
  cleanName,
  isObject,
  isShortId,
  isUserData,
  isValidChannel,
  type KnockEntry,
  type RoomState,
  type UserData,
} from "./protocol.ts";

/** A pending request to enter a locked room. */
export interface Knock {
  peerId: string;
  /** The cleaned display name hosts see. */
  name: string;
  /** What the admitted join is made with. */
  userdata: UserData;
  browser?: string;
}

/** One room's authority as saved to disk. */
export interface RoomSnapshot {
  channel: string;
  hosts: string[];
  locked: boolean;
  password: PasswordRecord | null;
  /** Members, longest present first (they come back by resuming). */
  members: string[];
  /** Member → the browser id it entered with. */
  browsers: [string, string][];
  knocks: Knock[];
  /** Browser ids removed from this meeting. */
  removed: string[];
  /**
   * Of `members`, those restored after a restart and not back yet, and
   * until when they are waited for (ms): handed to another instance so
   * both end the wait alike. Absent: none.
   */
  expected?: string[];
  keepUntil?: number;
}

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

/** What a knock did. */
export type KnockOutcome =
  /** Nothing keeps the knocker out: it joins at once. */
  | "enter"
  /** Queued (or already queued): hosts decide. */
  | "queued"
  /** The room has too many pending knocks. */
  | "full";

/** What an entry or exit changed, for the frames it causes. */
export interface Change {
  /** Hosts changed: every member hears `roomState`. */
  hosts: boolean;
  /** The pending list changed: every host hears `knocks`. */
  knocks: boolean;
  /** Peers who became host (they hear the pending list). */
  newHosts: string[];
}

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

class Room {
  /** In the order they became host. */
  readonly hosts = new Set<string>();
  /** In order of arrival: the first is the one present longest. */
  readonly members = new Set<string>();
  /** Restored members not back yet (a restart). */
  readonly expected = new Set<string>();
  readonly browsers = new Map<string, string>();
  readonly knocks = new Map<string, Knock>();
  readonly removed = new Set<string>();
  locked = false;
  password: PasswordRecord | null = null;
  /** Restored state is kept at least until then, for members to resume. */
  keepUntil = 0;

  /** Gives the host role to the member present longest if nobody present holds it. */
  passHost(): string[] {
    if (this.hosts.size > 0) return [];
    const [first] = this.members;
    if (first === undefined) return [];
    this.hosts.add(first);
    return [first];
  }
}

/** Per-room hosts, lock, knocks, password and removed browsers. */
export class Authority {
  #rooms = new Map<string, Room>();
  /** knocker → the channels it knocks on, so a disconnect does not scan every room. */
  #knocking = new Map<string, Set<string>>();
  /** Whether restored rooms may still wait for members (then a disconnect scans them). */
  #restoring = false;
  #version = 0;
  readonly #maxKnocks: number;
  readonly #now: () => number;
  readonly #graceMs: number;

  /** An authority with `options`, each defaulting as {@linkcode AuthorityOptions} says. */
  constructor(options: AuthorityOptions = {}) {
    this.#maxKnocks = options.maxKnocksPerRoom ?? DEFAULTS.maxKnocksPerRoom;
    this.#now = options.now ?? Date.now;
    this.#graceMs = options.restoreGraceMs ?? DEFAULTS.resumeWindowSeconds * 1000;
    this.restore(options.restored ?? []);
  }

  /**
   * Takes rooms saved before a restart: their members come back by
   * resuming, and are expected until the grace ends.
   */
  restore(rooms: Iterable<RoomSnapshot>): void {
    const keepUntil = this.#now() + this.#graceMs;
    for (const saved of rooms) {
      this.#add(saved, { members: "expected", keepUntil });
      this.#restoring = true;
      this.#version++;
    }
  }

  /**
   * Replaces every room with `rooms` as they are now on another instance
   * of the cluster (members present, not expected).
   */
  load(rooms: Iterable<RoomSnapshot>): void {
    this.#rooms.clear();
    this.#knocking.clear();
    for (const saved of rooms) {
      this.#add(saved, { members: "members", keepUntil: saved.keepUntil ?? 0 });
      // Still waiting for restored members there: they stay expected here too.
      const room = this.#rooms.get(saved.channel)!;
      for (const id of saved.expected ?? []) {
        if (room.members.delete(id)) room.expected.add(id);
      }
      if (room.keepUntil !== 0) this.#restoring = true;
    }
    this.#version++;
  }

  #add(
    saved: RoomSnapshot,
    { members, keepUntil }: { members: "members" | "expected"; keepUntil: number },
  ) {
    const room = new Room();
    for (const id of saved.hosts) room.hosts.add(id);
    for (const id of saved.members) room[members].add(id);
    for (const [id, browser] of saved.browsers) room.browsers.set(id, browser);
    for (const knock of saved.knocks) {
      room.knocks.set(knock.peerId, knock);
      this.#indexKnock(knock.peerId, saved.channel, true);
    }
    for (const browser of saved.removed) room.removed.add(browser);
    room.locked = saved.locked;
    room.password = saved.password;
    room.keepUntil = keepUntil;
    this.#rooms.set(saved.channel, room);
  }

  /** Bumped on every change, so a saver knows when to write. */
  get version(): number {
    return this.#version;
  }

  /** Rooms with authority state. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Whether `peerId` may enter `channel` now, capacity aside. */
  admit(
    channel: string,
    peerId: string,
    { entry, browser, password }: { entry: Entry; browser?: string; password?: string },
  ): Admission {
    const room = this.#rooms.get(channel);
    if (room === undefined || entry === "admitted") return ADMITTED;
    // A resume rejoins, past the lock and the password, only a room this
    // identity is known to have been in: a valid token proves who, not
    // where. Anywhere else it is a newcomer like any join.
    if (entry === "rejoin" && this.knows(channel, peerId)) return ADMITTED;
    if (room.locked || (browser !== undefined && room.removed.has(browser))) {
      return { ok: false, code: "room_locked" };
    }
    if (room.password === null) return ADMITTED;
    if (password === undefined || entry === "rejoin") {
      return { ok: false, code: "password_required" };
    }
    return { ok: true, verify: room.password };
  }

  /**
   * Whether `peerId` is known to have been in `channel`: a member now (away
   * ones too), or one expected back after a restart.
   */
  knows(channel: string, peerId: string): boolean {
    const room = this.#rooms.get(channel);
    return room !== undefined && (room.members.has(peerId) || room.expected.has(peerId));
  }

  /** The other members of `channel` who entered with the same browser as `peerId`. */
  sameBrowser(channel: string, peerId: string): string[] {
    const room = this.#rooms.get(channel);
    const browser = room?.browsers.get(peerId);
    if (room === undefined || browser === undefined) return [];
    return [...room.browsers].filter(([id, b]) => b === browser && id !== peerId).map(([id]) => id);
  }

  /** `peerId`'s pending knock on `channel`, if any. */
  knockOf(channel: string, peerId: string): Knock | undefined {
    return this.#rooms.get(channel)?.knocks.get(peerId);
  }

  /** The password record a join must match now (null: none). */
  passwordOf(channel: string): PasswordRecord | null {
    return this.#rooms.get(channel)?.password ?? null;
  }

  /** Records that `peerId` entered `channel`: the first one in becomes host. */
  entered(channel: string, peerId: string, { browser }: { browser?: string } = {}): Change {
    let room = this.#rooms.get(channel);
    if (room === undefined) {
      room = new Room();
      this.#rooms.set(channel, room);
    }
    room.expected.delete(peerId);
    room.members.add(peerId);
    if (browser !== undefined) room.browsers.set(peerId, browser);
    const knocks = room.knocks.delete(peerId);
    if (knocks) this.#indexKnock(peerId, channel, false);
    const newHosts = room.passHost();
    this.#version++;
    return { hosts: newHosts.length > 0, knocks, newHosts };
  }

  /**
   * Records that `peerId` left `channel` for good (part, Leave, removal,
   * resume window passed): if it was the last host present, the member
   * present longest becomes host at once.
   */
  left(channel: string, peerId: string): Change {
    const room = this.#rooms.get(channel);
    if (room === undefined || !room.members.delete(peerId)) return NO_CHANGE;
    room.browsers.delete(peerId);
    const wasHost = room.hosts.delete(peerId);
    const newHosts = wasHost ? room.passHost() : [];
    this.#version++;
    this.#dropIfIdle(channel, room);
    return { hosts: wasHost, knocks: false, newHosts };
  }

  /** Queues `knock` on `channel`, or says the knocker may simply enter. */
  knock(channel: string, knock: Knock): KnockOutcome {
    const room = this.#rooms.get(channel);
    if (room === undefined) return "enter";
    const removed = knock.browser !== undefined && room.removed.has(knock.browser);
    if (!room.locked && !removed && room.password === null) return "enter";
    if (!room.knocks.has(knock.peerId) && room.knocks.size >= this.#maxKnocks) return "full";
    room.knocks.set(knock.peerId, knock);
    this.#indexKnock(knock.peerId, channel, true);
    this.#version++;
    return "queued";
  }

  /** Takes `peerId`'s pending knock on `channel` (admit, deny, withdraw); undefined if none. */
  takeKnock(channel: string, peerId: string): Knock | undefined {
    const room = this.#rooms.get(channel);
    const knock = room?.knocks.get(peerId);
    if (room === undefined || knock === undefined) return;
    room.knocks.delete(peerId);
    this.#indexKnock(peerId, channel, false);
    this.#version++;
    this.#dropIfIdle(channel, room);
    return knock;
  }

  /** Drops every pending knock of `peerId` (gone for good); the channels whose list changed. */
  forget(peerId: string): string[] {
    const changed: string[] = [];
    const channels = this.#restoring ? [...this.#rooms.keys()] : this.#knocking.get(peerId) ?? [];
    this.#knocking.delete(peerId);
    for (const channel of [...channels]) {
      const room = this.#rooms.get(channel);
      if (room === undefined) continue;
      const knocked = room.knocks.delete(peerId);
      if (!room.expected.delete(peerId) && !knocked) continue;
      if (knocked) changed.push(channel);
      this.#version++;
      this.#dropIfIdle(channel, room);
    }
    return changed;
  }

  /** Whether `peerId` is knocking on `channel`. */
  isKnocking(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.knocks.has(peerId) ?? false;
  }

  /** Whether `peerId` holds the host role in `channel`. */
  isHost(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.hosts.has(peerId) ?? false;
  }

  /** Makes member `peerId` a host too; false if it already was (or is no member). */
  makeHost(channel: string, peerId: string): boolean {
    const room = this.#rooms.get(channel);
    if (room === undefined || !room.members.has(peerId) || room.hosts.has(peerId)) return false;
    room.hosts.add(peerId);
    this.#version++;
    return true;
  }

  /** Locks or unlocks `channel`; false if nothing changed. */
  setLocked(channel: string, locked: boolean): boolean {
    const room = this.#rooms.get(channel);
    if (room === undefined || room.locked === locked) return false;
    room.locked = locked;
    this.#version++;
    return true;
  }

  /** Sets or clears `channel`'s password hash; false if the room has no state. */
  setPassword(channel: string, password: PasswordRecord | null): boolean {
    const room = this.#rooms.get(channel);
    if (room === undefined) return false;
    room.password = password;
    this.#version++;
    return true;
  }

  /** Remembers the browser `peerId` entered with: its joins count as knocks this meeting. */
  rememberRemoved(channel: string, peerId: string): void {
    const room = this.#rooms.get(channel);
    const browser = room?.browsers.get(peerId);
    if (room === undefined || browser === undefined) return;
    room.removed.add(browser);
    this.#version++;
  }

  /** What every member is told in `roomState`; undefined for a room without state. */
  stateOf(channel: string): RoomState | undefined {
    const room = this.#rooms.get(channel);
    if (room === undefined) return;
    return {
      channel,
      hosts: [...room.hosts],
      locked: room.locked,
      password: room.password !== null,
    };
  }

  /** The hosts of `channel`. */
  hostsOf(channel: string): string[] {
    return [...(this.#rooms.get(channel)?.hosts ?? [])];
  }

  /** The pending knocks of `channel`, oldest first, as hosts see them. */
  knocksOf(channel: string): KnockEntry[] {
    return [...(this.#rooms.get(channel)?.knocks.values() ?? [])].map((k) => ({
      peer_id: k.peerId,
      name: k.name,
    }));
  }

  /**
   * Ends the grace of restored rooms whose time has come: members who did
   * not resume are forgotten, with their host role and their knocks (a
   * knocker is kept if `holds` it), and a room left without a host present
   * passes the role on. Also drops rooms nobody is in. Returns what changed.
   */
  sweep(holds: (peerId: string) => boolean, now: number = this.#now()): Map<string, Change> {
    const changes = new Map<string, Change>();
    if (!this.#restoring) return changes;
    let waiting = false;
    for (const [channel, room] of [...this.#rooms]) {
      if (room.keepUntil === 0) continue;
      if (now < room.keepUntil) {
        waiting = true;
        continue;
      }
      room.keepUntil = 0;
      room.expected.clear();
      let hosts = false;
      for (const id of room.hosts) {
        if (room.members.has(id)) continue;
        room.hosts.delete(id);
        hosts = true;
      }
      let knocks = false;
      for (const id of room.knocks.keys()) {
        if (holds(id)) continue;
        room.knocks.delete(id);
        this.#indexKnock(id, channel, false);
        knocks = true;
      }
      const newHosts = room.passHost();
      this.#version++;
      if (hosts || knocks || newHosts.length > 0) {
        changes.set(channel, { hosts: hosts || newHosts.length > 0, knocks, newHosts });
      }
      this.#dropIfIdle(channel, room);
    }
    this.#restoring = waiting;
    return changes;
  }

  /** Whether the wait for some restored room's members has ended by `now` (a sweep is due). */
  sweepDue(now: number): boolean {
    if (!this.#restoring) return false;
    for (const room of this.#rooms.values()) {
      if (room.keepUntil !== 0 && now >= room.keepUntil) return true;
    }
    return false;
  }

  /** Every room's state, for saving. */
  snapshot(): RoomSnapshot[] {
    return [...this.#rooms].map(([channel, room]) => {
      const saved: RoomSnapshot = {
        channel,
        hosts: [...room.hosts],
        locked: room.locked,
        password: room.password,
        members: [...room.members, ...room.expected],
        browsers: [...room.browsers],
        knocks: [...room.knocks.values()],
        removed: [...room.removed],
      };
      if (room.keepUntil !== 0) {
        saved.expected = [...room.expected];
        saved.keepUntil = room.keepUntil;
      }
      return saved;
    });
  }

  #indexKnock(peerId: string, channel: string, knocking: boolean) {
    let channels = this.#knocking.get(peerId);
    if (knocking) {
      if (channels === undefined) this.#knocking.set(peerId, channels = new Set());
      channels.add(channel);
    } else if (channels?.delete(channel) && channels.size === 0) {
      this.#knocking.delete(peerId);
    }
  }

  /** Nobody in it, nobody away in it (still a member), nobody knocking: the meeting is over. */
  #dropIfIdle(channel: string, room: Room) {
    if (
      room.members.size === 0 && room.knocks.size === 0 && room.expected.size === 0 &&
      this.#now() >= room.keepUntil
    ) {
      this.#rooms.delete(channel);
      this.#version++;
    }
  }
}

function ids(value: unknown): string[] {
  return Array.isArray(value) ? value.filter(isShortId) : [];
}

function parseKnock(value: unknown): Knock | undefined {
  if (!isObject(value) || !isShortId(value.peerId) || !isUserData(value.userdata)) return;
  const knock: Knock = {
    peerId: value.peerId,
    name: cleanName(value.name),
    userdata: value.userdata,
  };
  if (isShortId(value.browser)) knock.browser = value.browser;
  return knock;
}

/**
 * Rebuilds saved rooms from parsed JSON, field by field; a malformed room
 * is dropped, a malformed entry within one is skipped.
 */
export function parseRoomSnapshots(value: unknown): RoomSnapshot[] {
  if (!Array.isArray(value)) return [];
  const out: RoomSnapshot[] = [];
  for (const item of value) {
    if (!isObject(item) || !isValidChannel(item.channel)) continue;
    const password = item.password === null ? null : parsePasswordRecord(item.password);
    if (password === undefined) continue; // unreadable hash: never open the room by accident
    const browsers: [string, string][] = [];
    for (const pair of Array.isArray(item.browsers) ? item.browsers : []) {
      if (Array.isArray(pair) && isShortId(pair[0]) && isShortId(pair[1])) {
        browsers.push([pair[0], pair[1]]);
      }
    }
    out.push({
      channel: item.channel,
      hosts: ids(item.hosts),
      locked: item.locked === true,
      password,
      members: ids(item.members),
      browsers,
      knocks: (Array.isArray(item.knocks) ? item.knocks : []).map(parseKnock).filter((k) =>
        k !== undefined
      ),
      removed: ids(item.removed),
      ...(Array.isArray(item.expected) && typeof item.keepUntil === "number"
        ? { expected: ids(item.expected), keepUntil: item.keepUntil }
        : {}),
    });
  }
  return out;
}
