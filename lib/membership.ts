/**
 * Room membership as peers see it: the frames a join or a part sends —
 * `addPeer` both ways with the offer and politeness roles, `joined`,
 * `removePeer`, `parted` — in their order, fanned out through the hub's
 * delivery callback by peer id. {@linkcode Membership} is what the rest of
 * the hub calls for rooms; it hands on to its parts: `admission.ts` (the
 * gate every entry passes, and knocks), `host_actions.ts` (what a host may
 * do) and `room_frames.ts` (the `roomState`/`knocks` frames an authority
 * change sends). The registry holds the membership data and `authority.ts`
 * the policy state.
 *
 * @module
 */

import { Gate, type JoinOptions, type Refusal } from "./admission.ts";
import { Authority } from "./authority.ts";
import { DEFAULTS } from "./config.ts";
import { HostActions } from "./host_actions.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { PasswordRecord } from "./password.ts";
import {
  encodeAddPeer,
  type HostTargetEvent,
  type JoinedData,
  type KnockRequest,
  type RoomAlert,
  type ServerMessage,
} from "./protocol.ts";
import type { Registry } from "./registry.ts";
import { RoomFrames } from "./room_frames.ts";

export type { JoinOptions, Refusal } from "./admission.ts";

/** Limits of a {@linkcode Membership}; every field has a default. */
export interface RoomLimits {
  /** Members one channel may hold. Default 8 (a mesh uploads N-1 streams). */
  maxPeersPerChannel?: number;
  /** Channels one connection may be in at once. Default 8. */
  maxChannelsPerPeer?: number;
}

/** What a {@linkcode Membership} needs of the hub. */
export interface MembershipOptions extends RoomLimits {
  /** Sends a frame (or its text) to a peer by id (the hub's one delivery path). */
  deliver(peerId: string, message: ServerMessage | string): void;
  /** Answers a peer's refused frame with an `error`. */
  refuse(peerId: string, refusal: Refusal): void;
  /**
   * Whether the hub still holds `peerId`: any send may kick a slow
   * consumer, which removes it, so a fan-out checks between sends.
   */
  holds(peerId: string): boolean;
  /** Room policy. Default: a fresh {@linkcode Authority}. */
  authority?: Authority;
  /**
   * What `joined` carries besides the channel and peers: the session's ICE
   * servers — only members get them, and TURN credentials only with
   * `company` (someone to relay to). Default none.
   */
  joinedExtras?(
    peerId: string,
    company: boolean,
  ): Pick<JoinedData, "ice_servers" | "ice_transport_policy">;
  /**
   * `peerId` entered a room and met `others` (members it shares a channel
   * with only now): each may now need a relay. Default nothing.
   */
  met?(peerId: string, others: string[]): void;
  /** Default: writes nothing. */
  logger?: Logger;
}

/** Joins and parts, with the frames each sends. */
export class Membership {
  readonly #registry: Registry;
  readonly #deliver: MembershipOptions["deliver"];
  readonly #joinedExtras: MembershipOptions["joinedExtras"];
  readonly #met: MembershipOptions["met"];
  readonly #refuse: MembershipOptions["refuse"];
  readonly #holds: MembershipOptions["holds"];
  readonly #authority: Authority;
  readonly #logger: Logger;
  readonly #frames: RoomFrames;
  readonly #gate: Gate;
  readonly #hosts: HostActions;

  /** Membership kept in `registry`, sending through `options.deliver`. */
  constructor(registry: Registry, options: MembershipOptions) {
    this.#registry = registry;
    this.#deliver = options.deliver;
    this.#joinedExtras = options.joinedExtras;
    this.#met = options.met;
    this.#refuse = options.refuse;
    this.#holds = options.holds;
    this.#authority = options.authority ?? new Authority();
    this.#logger = options.logger ?? SILENT_LOGGER;
    const parts = {
      registry,
      authority: this.#authority,
      deliver: this.#deliver,
      refuse: this.#refuse,
      join: (peerId: string, request: JoinOptions) => void this.join(peerId, request),
    };
    this.#frames = new RoomFrames(parts);
    this.#gate = new Gate({
      ...parts,
      frames: this.#frames,
      maxPeers: options.maxPeersPerChannel ?? DEFAULTS.maxPeersPerChannel,
      maxChannels: options.maxChannelsPerPeer ?? DEFAULTS.maxChannelsPerPeer,
    });
    this.#hosts = new HostActions({ ...parts, frames: this.#frames });
  }

  /**
   * Adds `peerId` to `channel` and introduces it to the members it did
   * not share a channel with yet, then sends `joined` (unless `quiet`: a
   * resume rejoins without it) and `roomState`.
   *
   * Returns a password record when the room has a password the join's
   * `password` must first be checked against (nothing happened yet: the
   * caller hashes, off the event loop, and joins again with `verified`).
   */
  join(peerId: string, request: JoinOptions): PasswordRecord | undefined {
    const { channel, userdata, quiet = false } = request;
    // A peer kicked earlier in this frame's handling must not come back.
    if (!this.#holds(peerId)) return;
    const verdict = this.#gate.check(peerId, request);
    if (verdict !== undefined && "code" in verdict) {
      this.#refuse(peerId, verdict);
      return;
    }
    if (verdict !== undefined) return verdict;
    const { newlyShared, members } = this.#registry.join(peerId, { channel, userdata });
    const change = this.#authority.entered(channel, peerId, { browser: request.browser });
    // What every member hears of the joiner is one text.
    const toMembers = newlyShared.length === 0
      ? ""
      : encodeAddPeer(peerId, false, JSON.stringify(userdata));
    for (const other of newlyShared) {
      // Any send may kick a slow consumer, which removes it and tells the
      // others: a kicked joiner stops the fan-out, a kicked member is not
      // introduced (either would leave a member no socket owns).
      if (!this.#holds(peerId)) return;
      this.#deliver(other.peerId, toMembers);
      if (!this.#registry.isMember(other.peerId, channel)) continue;
      this.#deliver(peerId, encodeAddPeer(other.peerId, true, JSON.stringify(other.userdata)));
    }
    if (!this.#holds(peerId)) return;
    if (quiet) {
      this.#frames.tellState(peerId, channel);
    } else {
      // `joined` carries the room's state: one frame fewer per join.
      const extras = this.#joinedExtras?.(peerId, members.length > 0);
      const joined: JoinedData = { channel, peers: members, ...extras };
      const state = this.#authority.stateOf(channel);
      if (state !== undefined) joined.room_state = state;
      this.#deliver(peerId, { event: "joined", data: joined });
    }
    this.#logger.log("debug", "join", { peer: peerId, channel, size: members.length + 1 });
    if (newlyShared.length > 0) this.#met?.(peerId, newlyShared.map((other) => other.peerId));
    if (!this.#holds(peerId)) return;
    if (change.hosts) this.#frames.announce(channel, peerId);
    if (change.knocks) this.#frames.tellHostsKnocks(channel);
    // A host entering (first in, or back after a restart) finds the pending list.
    else if (this.#authority.isHost(channel, peerId)) this.#frames.tellKnocks(peerId, channel);
  }

  /**
   * Removes `peerId` from `channel`; pairs that share no channel any more
   * hear `removePeer`. A knocker parting withdraws its knock.
   */
  part(peerId: string, channel: string): void {
    if (!this.#registry.isMember(peerId, channel)) {
      if (this.#authority.takeKnock(channel, peerId) !== undefined) {
        this.#deliver(peerId, { event: "parted", data: { channel } });
        return this.#frames.tellHostsKnocks(channel);
      }
      return this.#refuse(peerId, {
        code: "not_joined",
        message: `Cannot part channel "${channel}": not joined`,
        event: "part",
      });
    }
    for (const other of this.#registry.part(peerId, channel)) {
      this.#deliver(other, { event: "removePeer", data: { peer_id: peerId } });
      this.#deliver(peerId, { event: "removePeer", data: { peer_id: other } });
    }
    this.#deliver(peerId, { event: "parted", data: { channel } });
    this.#logger.log("debug", "part", { peer: peerId, channel });
    this.#frames.tellChange(channel, this.#authority.left(channel, peerId));
  }

  /**
   * Removes `peerId` for good: from every channel (everyone it shared one
   * with hears `removePeer`, a host role passes on) and from every door it
   * was knocking at.
   */
  leaveAll(peerId: string): void {
    const channels = [...this.#registry.channelsOf(peerId)];
    for (const other of this.#registry.leaveAll(peerId)) {
      this.#deliver(other, { event: "removePeer", data: { peer_id: peerId } });
    }
    for (const channel of channels) {
      this.#frames.tellChange(channel, this.#authority.left(channel, peerId));
    }
    for (const channel of this.#authority.forget(peerId)) this.#frames.tellHostsKnocks(channel);
  }

  /**
   * A knock on `channel`'s door: queued for the hosts (the knocker hears
   * `knocking`, every host the new pending list), or, when nothing keeps
   * the knocker out, a join at once.
   */
  knock(peerId: string, request: KnockRequest): void {
    this.#gate.knock(peerId, request);
  }

  /**
   * Checks that `peerId` holds the host role in `channel` (and is in it);
   * otherwise refuses `event` with `not_allowed` and returns false.
   */
  allowHost(peerId: string, channel: string, event: string): boolean {
    return this.#hosts.allow(peerId, channel, event);
  }

  /**
   * A host's action on one person: `makeHost`, `mute` and `remove` aim at a
   * member, `admit` and `deny` at a knocker; anyone else is `unknown_peer`.
   * `remove` is only checked here: the hub closes the socket and calls
   * {@linkcode Membership.leaveAll}.
   */
  hostAction(
    hostId: string,
    action: { event: HostTargetEvent; channel: string; target: string },
  ): boolean {
    return this.#hosts.act(hostId, action);
  }

  /** A host locks or unlocks `channel`; every member hears the new `roomState`. */
  lock(hostId: string, channel: string, locked: boolean): void {
    this.#hosts.lock(hostId, channel, locked);
  }

  /**
   * A host sets (a hash computed by the caller) or clears `channel`'s
   * password; the role is checked again, since hashing took a while.
   */
  setPassword(hostId: string, channel: string, password: PasswordRecord | null): void {
    this.#hosts.setPassword(hostId, channel, password);
  }

  /**
   * Ends the wait of rooms restored after a restart (see
   * {@linkcode Authority.sweep}) and tells members and hosts what changed.
   */
  sweep(now?: number): void {
    for (const [channel, change] of this.#authority.sweep(this.#holds, now)) {
      this.#frames.tellChange(channel, change);
    }
  }

  /** Warns every host present in `channel` (`roomAlert`). */
  alertHosts(channel: string, alert: RoomAlert): void {
    this.#frames.alertHosts(channel, alert);
  }

  /** Sends `message` to everyone `peerId` shares a channel with (`peerAway`, `peerBack`). */
  tellNeighbours(peerId: string, message: ServerMessage): void {
    for (const other of this.#registry.neighboursOf(peerId)) this.#deliver(other, message);
  }
}
