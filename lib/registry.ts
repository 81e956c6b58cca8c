/**
 * Channel membership: which peers are in which channels, with the userdata
 * each gave when joining. Pure data — no sockets, no timers — so the pairing
 * rules (one `addPeer` per pair sharing any channel, `removePeer` when they
 * share none) are decided here and tested alone.
 *
 * @module
 */

import type { UserData } from "./protocol.ts";

/** Who became visible to whom when a peer joined. */
export interface JoinResult {
  /** Members that did not share any channel with the joiner before. */
  newlyShared: { peerId: string; userdata: UserData }[];
  /** Every other member of the channel, in join order. */
  members: string[];
}

/**
 * The channels of a peer in none (asked on every join: not a new set each
 * time). Shared by every such peer: only ever read, never added to.
 */
const NO_CHANNELS: ReadonlySet<string> = new Set();

/** In-memory channel ⇄ peer membership. */
export class Registry {
  /** channel → (peer → the userdata it joined that channel with) */
  #channels = new Map<string, Map<string, UserData>>();
  /** peer → the channels it is in */
  #peers = new Map<string, Set<string>>();

  /** Number of non-empty channels. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Number of members in `channel` (0 when it does not exist). */
  size(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** Whether `peerId` is a member of `channel`. */
  isMember(peerId: string, channel: string): boolean {
    return this.#channels.get(channel)?.has(peerId) ?? false;
  }

  /** The channels `peerId` is in. */
  channelsOf(peerId: string): ReadonlySet<string> {
    return this.#peers.get(peerId) ?? NO_CHANNELS;
  }

  /** The members of `channel`, in join order. */
  membersOf(channel: string): string[] {
    return [...(this.#channels.get(channel)?.keys() ?? [])];
  }

  /** The userdata `peerId` joined `channel` with (undefined when not a member). */
  userdataOf(peerId: string, channel: string): UserData | undefined {
    return this.#channels.get(channel)?.get(peerId);
  }

  /** Every channel with its members in join order, for another instance to load. */
  entries(): [string, [string, UserData][]][] {
    return [...this.#channels].map(([channel, members]) => [channel, [...members]]);
  }

  /** Whether two distinct peers are together in at least one channel. */
  shareChannel(a: string, b: string): boolean {
    if (a === b) return false;
    const channels = this.#peers.get(a);
    if (channels === undefined) return false;
    for (const name of channels) {
      if (this.#channels.get(name)?.has(b)) return true;
    }
    return false;
  }

  /**
   * Adds `peerId` to `channel`. The caller checks capacity and duplicates;
   * joining a channel one is already in is a `RangeError`.
   */
  join(peerId: string, { channel, userdata }: { channel: string; userdata: UserData }): JoinResult {
    let members = this.#channels.get(channel);
    if (members?.has(peerId)) {
      throw new RangeError(
        `Cannot join channel "${channel}": peer is already a member`,
      );
    }
    const newlyShared: JoinResult["newlyShared"] = [];
    const others: string[] = [];
    for (const [other, data] of members ?? []) {
      others.push(other);
      if (!this.shareChannel(peerId, other)) {
        newlyShared.push({ peerId: other, userdata: data });
      }
    }
    if (members === undefined) {
      members = new Map();
      this.#channels.set(channel, members);
    }
    members.set(peerId, userdata);
    let channels = this.#peers.get(peerId);
    if (channels === undefined) {
      channels = new Set();
      this.#peers.set(peerId, channels);
    }
    channels.add(channel);
    return { newlyShared, members: others };
  }

  /**
   * Removes `peerId` from `channel` and returns the peers it no longer
   * shares any channel with. Parting a channel one is not in is a
   * `RangeError`.
   */
  part(peerId: string, channel: string): string[] {
    const members = this.#channels.get(channel);
    if (!members?.delete(peerId)) {
      throw new RangeError(
        `Cannot part channel "${channel}": peer is not a member`,
      );
    }
    if (members.size === 0) this.#channels.delete(channel);
    const channels = this.#peers.get(peerId)!;
    channels.delete(channel);
    if (channels.size === 0) this.#peers.delete(peerId);
    return [...members.keys()].filter((other) => !this.shareChannel(peerId, other));
  }

  /** Everyone `peerId` shares at least one channel with. */
  neighboursOf(peerId: string): string[] {
    const out = new Set<string>();
    for (const channel of this.channelsOf(peerId)) {
      for (const member of this.#channels.get(channel)!.keys()) {
        if (member !== peerId) out.add(member);
      }
    }
    return [...out];
  }

  /** Removes `peerId` from every channel; returns everyone it shared one with. */
  leaveAll(peerId: string): string[] {
    const lost = new Set<string>();
    for (const channel of [...this.channelsOf(peerId)]) {
      for (const other of this.part(peerId, channel)) lost.add(other);
    }
    return [...lost];
  }
}
