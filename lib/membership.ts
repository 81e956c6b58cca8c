/**
 * Room membership as peers see it: who may join a channel, and the frames
 * a join or a part sends (`addPeer` both ways with the offer and politeness
 * roles, `joined`, `removePeer`, `parted`). The registry holds the data;
 * this module holds the rules and the order of the frames, and sends them
 * through the hub's delivery callback by peer id.
 *
 * @module
 */

import { DEFAULTS } from "./config.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { ErrorCode, ServerMessage, UserData } from "./protocol.ts";
import type { Registry } from "./registry.ts";

/** Limits of a {@linkcode Membership}; every field has a default. */
export interface RoomLimits {
  /** Members one channel may hold. Default 8 (a mesh uploads N-1 streams). */
  maxPeersPerChannel?: number;
  /** Channels one connection may be in at once. Default 8. */
  maxChannelsPerPeer?: number;
}

/** What a {@linkcode Membership} needs of the hub. */
export interface MembershipOptions extends RoomLimits {
  /** Sends a frame to a peer by id (the hub's one delivery path). */
  deliver(peerId: string, message: ServerMessage): void;
  /** Answers a peer's refused frame with an `error`. */
  refuse(peerId: string, refusal: Refusal): void;
  /**
   * Whether the hub still holds `peerId`: any send may kick a slow
   * consumer, which removes it, so a fan-out checks between sends.
   */
  holds(peerId: string): boolean;
  /** Default: writes nothing. */
  logger?: Logger;
}

/** Why a frame was refused, as its `error` frame says it. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  event?: string;
}

/** Joins and parts, with the frames each sends. */
export class Membership {
  readonly #registry: Registry;
  readonly #maxPeers: number;
  readonly #maxChannels: number;
  readonly #deliver: MembershipOptions["deliver"];
  readonly #refuse: MembershipOptions["refuse"];
  readonly #holds: MembershipOptions["holds"];
  readonly #logger: Logger;

  /** Membership kept in `registry`, sending through `options.deliver`. */
  constructor(registry: Registry, options: MembershipOptions) {
    this.#registry = registry;
    this.#maxPeers = options.maxPeersPerChannel ?? DEFAULTS.maxPeersPerChannel;
    this.#maxChannels = options.maxChannelsPerPeer ?? DEFAULTS.maxChannelsPerPeer;
    this.#deliver = options.deliver;
    this.#refuse = options.refuse;
    this.#holds = options.holds;
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  /**
   * Adds `peerId` to `channel` and introduces it to the members it did
   * not share a channel with yet, then sends `joined` (unless `quiet`: a
   * resume rejoins without it).
   */
  join(
    peerId: string,
    { channel, userdata, quiet = false }: { channel: string; userdata: UserData; quiet?: boolean },
  ): void {
    // A peer kicked earlier in this frame's handling must not come back.
    if (!this.#holds(peerId)) return;
    const refusal = this.#admit(peerId, channel);
    if (refusal !== undefined) return this.#refuse(peerId, refusal);
    const { newlyShared, members } = this.#registry.join(peerId, { channel, userdata });
    for (const other of newlyShared) {
      // Any send may kick a slow consumer, which removes it and tells the
      // others: a kicked joiner stops the fan-out, a kicked member is not
      // introduced (either would leave a member no socket owns).
      if (!this.#holds(peerId)) return;
      this.#deliver(other.peerId, {
        event: "addPeer",
        data: { peer_id: peerId, should_create_offer: false, polite: true, userdata },
      });
      if (!this.#registry.isMember(other.peerId, channel)) continue;
      this.#deliver(peerId, {
        event: "addPeer",
        data: {
          peer_id: other.peerId,
          should_create_offer: true,
          polite: false,
          userdata: other.userdata,
        },
      });
    }
    if (!this.#holds(peerId)) return;
    if (!quiet) this.#deliver(peerId, { event: "joined", data: { channel, peers: members } });
    this.#logger.log("debug", "join", { peer: peerId, channel, size: members.length + 1 });
  }

  /** Removes `peerId` from `channel`; pairs that share no channel any more hear `removePeer`. */
  part(peerId: string, channel: string): void {
    if (!this.#registry.isMember(peerId, channel)) {
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
  }

  /** Removes `peerId` from every channel; everyone it shared one with hears `removePeer`. */
  leaveAll(peerId: string): void {
    for (const other of this.#registry.leaveAll(peerId)) {
      this.#deliver(other, { event: "removePeer", data: { peer_id: peerId } });
    }
  }

  /** Sends `message` to everyone `peerId` shares a channel with (`peerAway`, `peerBack`). */
  tellNeighbours(peerId: string, message: ServerMessage): void {
    for (const other of this.#registry.neighboursOf(peerId)) this.#deliver(other, message);
  }

  /**
   * The one gate every admission to a room passes — a `join`, and the
   * rejoin of a resume. Room policy (a host's lock, knocking, removal)
   * plugs in here: it decides whether `peerId` may enter `channel`.
   */
  #admit(peerId: string, channel: string): Refusal | undefined {
    if (this.#registry.isMember(peerId, channel)) {
      return {
        code: "already_joined",
        message: `Cannot join channel "${channel}": already joined`,
        event: "join",
      };
    }
    if (this.#registry.channelsOf(peerId).size >= this.#maxChannels) {
      return {
        code: "too_many_channels",
        message: `Cannot join channel "${channel}": already in ${this.#maxChannels} channels`,
        event: "join",
      };
    }
    if (this.#registry.size(channel) >= this.#maxPeers) {
      return {
        code: "channel_full",
        message: `Cannot join channel "${channel}": it is full (${this.#maxPeers} peers)`,
        event: "join",
      };
    }
    return undefined;
  }
}
