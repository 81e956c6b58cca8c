/**
 * Room snapshots and restore: one room's authority as it is saved
 * (`rooms.json`, the cluster's snapshot in Redis) and handed to another
 * instance, the parser that rebuilds saved rooms field by field, and
 * {@linkcode RoomSnapshots}, which takes every room's snapshot and restores
 * rooms from them — after a restart waiting for their members to come back
 * (the grace, then a sweep), or as they are on another instance.
 *
 * @module
 */

import type { Knock } from "./knocks.ts";
import { parsePasswordRecord, type PasswordRecord } from "./password.ts";
import { cleanName, isObject, isShortId, isUserData, isValidChannel } from "./protocol.ts";
import type { Change, RoomParts } from "./room_parts.ts";
import type { RoomRoster } from "./room_roster.ts";

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

/**
 * Every room's snapshot, taken and restored: after a restart (members
 * expected back until the grace ends, then swept) or from another instance
 * of the cluster (as they are there).
 */
export class RoomSnapshots {
  readonly #rooms: RoomParts;
  readonly #now: () => number;
  readonly #graceMs: number;
  /** Whether restored rooms may still wait for members. */
  #waiting = false;

  /** Snapshots of `rooms`; restored members are waited for `graceMs`, on the clock `now`. */
  constructor(rooms: RoomParts, { now, graceMs }: { now: () => number; graceMs: number }) {
    this.#rooms = rooms;
    this.#now = now;
    this.#graceMs = graceMs;
  }

  /** Whether restored rooms may still wait for members (then a disconnect scans them). */
  get waiting(): boolean {
    return this.#waiting;
  }

  /**
   * Takes rooms saved before a restart: their members come back by
   * resuming, and are expected until the grace ends.
   */
  restore(rooms: Iterable<RoomSnapshot>): void {
    const keepUntil = this.#now() + this.#graceMs;
    for (const saved of rooms) {
      this.#put(saved, { members: [], expected: saved.members, keepUntil });
      this.#waiting = true;
      this.#rooms.changed();
    }
  }

  /**
   * Replaces every room with `rooms` as they are now on another instance
   * of the cluster (members present, not expected).
   */
  load(rooms: Iterable<RoomSnapshot>): void {
    this.#rooms.clear();
    for (const saved of rooms) {
      // Still waiting for restored members there: they stay expected here too.
      const members = new Set(saved.members);
      const expected = (saved.expected ?? []).filter((id) => members.delete(id));
      const keepUntil = saved.keepUntil ?? 0;
      this.#put(saved, { members, expected, keepUntil });
      if (keepUntil !== 0) this.#waiting = true;
    }
    this.#rooms.changed();
  }

  #put(saved: RoomSnapshot, roster: Parameters<RoomRoster["put"]>[1]) {
    const { channel } = saved;
    this.#rooms.roster.put(channel, roster);
    this.#rooms.hosts.put(channel, saved.hosts, saved.locked);
    this.#rooms.knocks.put(channel, saved.knocks);
    this.#rooms.passwords.set(channel, saved.password);
    this.#rooms.browsers.put(channel, saved.browsers, saved.removed);
    this.#rooms.doorChanged(channel);
  }

  /**
   * Ends the grace of restored rooms whose time has come: members who did
   * not resume are forgotten, with their host role and their knocks (a
   * knocker is kept if `holds` it), and a room left without a host present
   * passes the role on. Also drops rooms nobody is in. Returns what changed.
   */
  sweep(holds: (peerId: string) => boolean, now: number): Map<string, Change> {
    const changes = new Map<string, Change>();
    if (!this.#waiting) return changes;
    const { roster, hosts: hostRoles, knocks: queues } = this.#rooms;
    let waiting = false;
    for (const channel of roster.channels()) {
      const keepUntil = roster.keepUntil(channel);
      if (keepUntil === 0) continue;
      if (now < keepUntil) {
        waiting = true;
        continue;
      }
      roster.endWait(channel);
      const hosts = hostRoles.keepOnly(channel, (id) => roster.isMember(channel, id));
      const knocks = queues.keepOnly(channel, holds);
      const newHosts = this.#rooms.passHost(channel);
      this.#rooms.changed();
      if (hosts || knocks || newHosts.length > 0) {
        changes.set(channel, { hosts: hosts || newHosts.length > 0, knocks, newHosts });
      }
      this.#rooms.dropIfIdle(channel);
    }
    this.#waiting = waiting;
    return changes;
  }

  /** Whether the wait for some restored room's members has ended by `now` (a sweep is due). */
  sweepDue(now: number): boolean {
    if (!this.#waiting) return false;
    const { roster } = this.#rooms;
    return roster.channels().some((channel) => {
      const keepUntil = roster.keepUntil(channel);
      return keepUntil !== 0 && now >= keepUntil;
    });
  }

  /** Every room's state, for saving. */
  take(): RoomSnapshot[] {
    const { roster, hosts, knocks, passwords, browsers } = this.#rooms;
    return roster.channels().map((channel) => {
      const saved: RoomSnapshot = {
        channel,
        hosts: hosts.of(channel),
        locked: hosts.isLocked(channel),
        password: passwords.of(channel),
        members: roster.everyone(channel),
        browsers: browsers.entries(channel),
        knocks: knocks.list(channel),
        removed: browsers.removed(channel),
      };
      const keepUntil = roster.keepUntil(channel);
      if (keepUntil !== 0) {
        saved.expected = roster.expectedOf(channel);
        saved.keepUntil = keepUntil;
      }
      return saved;
    });
  }
}
