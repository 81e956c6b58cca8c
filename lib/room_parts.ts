/**
 * Room parts: the parts of every room's authority state held together —
 * the roster (`room_roster.ts`), hosts and lock (`room_hosts.ts`), pending
 * knocks (`knocks.ts`), passwords (`room_passwords.ts`) and removed
 * browsers (`removed_browsers.ts`) — with the count of their changes and
 * the one place a room ends, all its parts at once. `authority.ts` applies
 * the rules to them, `room_snapshots.ts` saves and restores them.
 *
 * @module
 */

import { Knocks } from "./knocks.ts";
import { RemovedBrowsers } from "./removed_browsers.ts";
import { RoomHosts } from "./room_hosts.ts";
import { RoomPasswords } from "./room_passwords.ts";
import { RoomRoster } from "./room_roster.ts";

/** What an entry or exit changed, for the frames it causes. */
export interface Change {
  /** Hosts changed: every member hears `roomState`. */
  hosts: boolean;
  /** The pending list changed: every host hears `knocks`. */
  knocks: boolean;
  /** Peers who became host (they hear the pending list). */
  newHosts: string[];
}

/** Door changes kept between two takes before every room counts as changed. */
const MAX_DOOR_CHANGES = 1024;

/** Every room's parts, and when a room ends. */
export class RoomParts {
  /** Members and those expected back; a room exists while it is on the roster. */
  readonly roster: RoomRoster = new RoomRoster();
  readonly hosts: RoomHosts = new RoomHosts();
  readonly knocks: Knocks;
  readonly passwords: RoomPasswords = new RoomPasswords();
  readonly browsers: RemovedBrowsers = new RemovedBrowsers();
  #version = 0;
  /** Rooms whose door may have changed since they were last taken (`true`: any room). */
  #doors: Set<string> | true = new Set();
  readonly #now: () => number;

  /** Empty rooms holding at most `maxKnocksPerRoom` knocks each, on the clock `now`. */
  constructor({ maxKnocksPerRoom, now }: { maxKnocksPerRoom: number; now: () => number }) {
    this.knocks = new Knocks(maxKnocksPerRoom);
    this.#now = now;
  }

  /** Bumped on every change, so a saver knows when to write. */
  get version(): number {
    return this.#version;
  }

  /** Counts a change. */
  changed(): void {
    this.#version++;
  }

  /** `channel`'s door (lock, password) may have changed: watchers look again. */
  doorChanged(channel: string): void {
    if (this.#doors === true) return;
    this.#doors.add(channel);
    // Nobody took them for a long while: every room is looked at then.
    if (this.#doors.size > MAX_DOOR_CHANGES) this.#doors = true;
  }

  /** The rooms whose door may have changed since the last call (`true`: any room). */
  takeDoorChanges(): ReadonlySet<string> | true {
    const changed = this.#doors;
    this.#doors = new Set();
    return changed;
  }

  /** Gives the host role to the member present longest if nobody present holds it; who became host. */
  passHost(channel: string): string[] {
    return this.hosts.passTo(channel, this.roster.longest(channel));
  }

  /** Nobody in it, nobody away in it (still a member), nobody knocking: the meeting is over. */
  dropIfIdle(channel: string): void {
    if (
      this.roster.isEmpty(channel) && this.knocks.count(channel) === 0 &&
      this.#now() >= this.roster.keepUntil(channel)
    ) {
      for (const part of this.#parts()) part.drop(channel);
      this.#version++;
      // A room that ends is an unused room again: its door opens.
      this.doorChanged(channel);
    }
  }

  /** Forgets every room. */
  clear(): void {
    for (const part of this.#parts()) part.clear();
    this.#doors = true;
  }

  #parts() {
    return [this.roster, this.hosts, this.knocks, this.passwords, this.browsers];
  }
}
