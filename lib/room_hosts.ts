/**
 * Hosts and lock: who holds the host role in each room (in the order they
 * became host) and which rooms are locked. Part of the room authority
 * (`authority.ts` decides who is a member and when the role passes on).
 *
 * @module
 */

/** Every room's hosts and lock. */
export class RoomHosts {
  /** channel → its hosts, in the order they became host. */
  #hosts = new Map<string, Set<string>>();
  #locked = new Set<string>();

  /** Whether `peerId` holds the host role in `channel`. */
  isHost(channel: string, peerId: string): boolean {
    return this.#hosts.get(channel)?.has(peerId) ?? false;
  }

  /** The hosts of `channel`, in the order they became host. */
  of(channel: string): string[] {
    return [...(this.#hosts.get(channel) ?? [])];
  }

  /** Makes `peerId` a host of `channel` too; false if it already was. */
  add(channel: string, peerId: string): boolean {
    const hosts = this.#hosts.get(channel);
    if (hosts?.has(peerId)) return false;
    if (hosts === undefined) this.#hosts.set(channel, new Set([peerId]));
    else hosts.add(peerId);
    return true;
  }

  /** Takes the host role from `peerId`; whether it held it. */
  remove(channel: string, peerId: string): boolean {
    return this.#hosts.get(channel)?.delete(peerId) ?? false;
  }

  /**
   * Gives the host role to `member` (the member present longest) if nobody
   * holds it; who became host.
   */
  passTo(channel: string, member: string | undefined): string[] {
    if ((this.#hosts.get(channel)?.size ?? 0) > 0 || member === undefined) return [];
    this.add(channel, member);
    return [member];
  }

  /** Keeps only the hosts of `channel` that `keep` says; whether any lost the role. */
  keepOnly(channel: string, keep: (peerId: string) => boolean): boolean {
    const hosts = this.#hosts.get(channel);
    let dropped = false;
    for (const id of hosts ?? []) {
      if (keep(id)) continue;
      hosts!.delete(id);
      dropped = true;
    }
    return dropped;
  }

  /** Whether `channel` is locked. */
  isLocked(channel: string): boolean {
    return this.#locked.has(channel);
  }

  /** Locks or unlocks `channel`; false if nothing changed. */
  setLocked(channel: string, locked: boolean): boolean {
    if (this.#locked.has(channel) === locked) return false;
    if (locked) this.#locked.add(channel);
    else this.#locked.delete(channel);
    return true;
  }

  /** Sets `channel`'s hosts and lock (a restored room). */
  put(channel: string, hosts: Iterable<string>, locked: boolean): void {
    this.#hosts.set(channel, new Set(hosts));
    this.setLocked(channel, locked);
  }

  /** Forgets `channel` (its room ended). */
  drop(channel: string): void {
    this.#hosts.delete(channel);
    this.#locked.delete(channel);
  }

  /** Forgets every room. */
  clear(): void {
    this.#hosts.clear();
    this.#locked.clear();
  }
}
