/**
 * The roster of rooms with authority state, in the order they began: who
 * each counts as in it (in order of arrival, away ones too, since ids
 * outlive connections), who it expects back after a restart, and until
 * when it waits for them. Part of the room authority (`authority.ts`
 * decides when a room ends).
 *
 * @module
 */

class Roll {
  /** In order of arrival: the first is the one present longest. */
  readonly members = new Set<string>();
  /** Restored members not back yet (a restart). */
  readonly expected = new Set<string>();
  /** Restored state is kept at least until then, for members to resume (0: not waiting). */
  keepUntil = 0;
}

/** Every room's members and expected members. */
export class RoomRoster {
  #rooms = new Map<string, Roll>();

  /** Rooms on the roster. */
  get size(): number {
    return this.#rooms.size;
  }

  /** The rooms, in the order they began. */
  channels(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Whether `channel` is on the roster. */
  has(channel: string): boolean {
    return this.#rooms.has(channel);
  }

  /** Records that `peerId` is in `channel` (no longer expected), opening the room if new. */
  enter(channel: string, peerId: string): void {
    let roll = this.#rooms.get(channel);
    if (roll === undefined) this.#rooms.set(channel, roll = new Roll());
    roll.expected.delete(peerId);
    roll.members.add(peerId);
  }

  /** Takes `peerId` off `channel`'s members; false if it was none. */
  leave(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.members.delete(peerId) ?? false;
  }

  /** Expects `peerId` back in `channel` no longer; false if it was not. */
  unexpect(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.expected.delete(peerId) ?? false;
  }

  /** Whether `peerId` is a member of `channel` (away ones too). */
  isMember(channel: string, peerId: string): boolean {
    return this.#rooms.get(channel)?.members.has(peerId) ?? false;
  }

  /** Whether `peerId` is a member of `channel` or expected back in it. */
  knows(channel: string, peerId: string): boolean {
    const roll = this.#rooms.get(channel);
    return roll !== undefined && (roll.members.has(peerId) || roll.expected.has(peerId));
  }

  /** The member of `channel` present longest. */
  longest(channel: string): string | undefined {
    const [first] = this.#rooms.get(channel)?.members ?? [];
    return first;
  }

  /** Whether `channel` has no member and expects nobody. */
  isEmpty(channel: string): boolean {
    const roll = this.#rooms.get(channel);
    return roll === undefined || (roll.members.size === 0 && roll.expected.size === 0);
  }

  /** Until when `channel` waits for its restored members, ms (0: not waiting). */
  keepUntil(channel: string): number {
    return this.#rooms.get(channel)?.keepUntil ?? 0;
  }

  /** Ends `channel`'s wait for its restored members: those not back are expected no longer. */
  endWait(channel: string): void {
    const roll = this.#rooms.get(channel);
    if (roll === undefined) return;
    roll.keepUntil = 0;
    roll.expected.clear();
  }

  /** The members of `channel`, then those expected back. */
  everyone(channel: string): string[] {
    const roll = this.#rooms.get(channel);
    return roll === undefined ? [] : [...roll.members, ...roll.expected];
  }

  /** Those expected back in `channel`. */
  expectedOf(channel: string): string[] {
    return [...(this.#rooms.get(channel)?.expected ?? [])];
  }

  /**
   * Sets `channel`'s roster (a restored room), keeping its place if it was
   * on it: `members` present, `expected` back until `keepUntil`.
   */
  put(
    channel: string,
    { members, expected, keepUntil }: {
      members: Iterable<string>;
      expected: Iterable<string>;
      keepUntil: number;
    },
  ): void {
    const roll = new Roll();
    for (const id of members) roll.members.add(id);
    for (const id of expected) roll.expected.add(id);
    roll.keepUntil = keepUntil;
    this.#rooms.set(channel, roll);
  }

  /** Takes `channel` off the roster (its meeting is over). */
  drop(channel: string): void {
    this.#rooms.delete(channel);
  }

  /** Takes every room off the roster. */
  clear(): void {
    this.#rooms.clear();
  }
}
