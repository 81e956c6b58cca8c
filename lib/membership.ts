/**
 * Room membership as peers see it: who may join a channel, and the frames
 * a join or a part sends (`addPeer` both ways with the offer and politeness
 * roles, `joined`, `removePeer`, `parted`), with room authority plugged in
 * at the admission gate: lock, knocks, password, removal, hosts, and the
 * `roomState`/`knocks` frames their changes send. The registry holds the
 * membership data and `authority.ts` the policy state; this module holds
 * the order of the frames, and sends them through the hub's delivery
 * callback by peer id.
 *
 * @module
 */

import { Authority, type Change, type Entry } from "./authority.ts";
import { DEFAULTS } from "./config.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import type { PasswordRecord } from "./password.ts";
import {
  cleanName,
  encodeAddPeer,
  type ErrorCode,
  type HostTargetEvent,
  type JoinedData,
  type KnockRequest,
  type RoomAlert,
  type ServerMessage,
  type UserData,
} from "./protocol.ts";
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

/** How one admission to a room is asked for; only `channel` and `userdata` are required. */
export interface JoinOptions {
  channel: string;
  userdata: UserData;
  /** A resume's rejoin: no `joined` frame, and only past members pass a lock. */
  quiet?: boolean;
  /** Let in by a host: lock, removal and password do not apply. */
  admitted?: boolean;
  /** The password the join carries. */
  password?: string;
  /** The salt of the password record `password` was already checked against (it names the record). */
  verified?: string;
  /** The browser id the join carries (remembered if a host removes this person). */
  browser?: string;
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
  readonly #joinedExtras: MembershipOptions["joinedExtras"];
  readonly #met: MembershipOptions["met"];
  readonly #refuse: MembershipOptions["refuse"];
  readonly #holds: MembershipOptions["holds"];
  readonly #authority: Authority;
  readonly #logger: Logger;

  /** Membership kept in `registry`, sending through `options.deliver`. */
  constructor(registry: Registry, options: MembershipOptions) {
    this.#registry = registry;
    this.#maxPeers = options.maxPeersPerChannel ?? DEFAULTS.maxPeersPerChannel;
    this.#maxChannels = options.maxChannelsPerPeer ?? DEFAULTS.maxChannelsPerPeer;
    this.#deliver = options.deliver;
    this.#joinedExtras = options.joinedExtras;
    this.#met = options.met;
    this.#refuse = options.refuse;
    this.#holds = options.holds;
    this.#authority = options.authority ?? new Authority();
    this.#logger = options.logger ?? SILENT_LOGGER;
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
    const verdict = this.#admit(peerId, request);
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
      this.#tellState(peerId, channel);
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
    if (change.hosts) this.#announce(channel, peerId);
    if (change.knocks) this.#tellHostsKnocks(channel);
    // A host entering (first in, or back after a restart) finds the pending list.
    else if (this.#authority.isHost(channel, peerId)) this.#tellKnocks(peerId, channel);
  }

  /**
   * Removes `peerId` from `channel`; pairs that share no channel any more
   * hear `removePeer`. A knocker parting withdraws its knock.
   */
  part(peerId: string, channel: string): void {
    if (!this.#registry.isMember(peerId, channel)) {
      if (this.#authority.takeKnock(channel, peerId) !== undefined) {
        this.#deliver(peerId, { event: "parted", data: { channel } });
        return this.#tellHostsKnocks(channel);
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
    this.#tellChange(channel, this.#authority.left(channel, peerId));
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
      this.#tellChange(channel, this.#authority.left(channel, peerId));
    }
    for (const channel of this.#authority.forget(peerId)) this.#tellHostsKnocks(channel);
  }

  /**
   * A knock on `channel`'s door: queued for the hosts (the knocker hears
   * `knocking`, every host the new pending list), or, when nothing keeps
   * the knocker out, a join at once.
   */
  knock(peerId: string, request: KnockRequest): void {
    const { channel, userdata, browser } = request;
    if (this.#registry.isMember(peerId, channel)) {
      return this.#refuse(peerId, {
        code: "already_joined",
        message: `Cannot knock on channel "${channel}": already joined`,
        event: "knock",
      });
    }
    const knock = { peerId, name: cleanName(userdata.name), userdata, browser };
    if (browser === undefined) delete knock.browser;
    const outcome = this.#authority.knock(channel, knock);
    if (outcome === "enter") {
      this.join(peerId, { channel, userdata, browser });
      return;
    }
    if (outcome === "full") {
      return this.#refuse(peerId, {
        code: "rate_limited",
        message: `Cannot knock on channel "${channel}": too many people are waiting`,
        event: "knock",
      });
    }
    this.#deliver(peerId, { event: "knocking", data: { channel } });
    this.#tellHostsKnocks(channel);
  }

  /**
   * Checks that `peerId` holds the host role in `channel` (and is in it);
   * otherwise refuses `event` with `not_allowed` and returns false.
   */
  allowHost(peerId: string, channel: string, event: string): boolean {
    if (this.#registry.isMember(peerId, channel) && this.#authority.isHost(channel, peerId)) {
      return true;
    }
    this.#refuse(peerId, {
      code: "not_allowed",
      message: `Cannot ${event} in channel "${channel}": only a host of that room may`,
      event,
    });
    return false;
  }

  /**
   * A host's action on one person: `makeHost`, `mute` and `remove` aim at a
   * member, `admit` and `deny` at a knocker; anyone else is `unknown_peer`.
   * `remove` is only checked here: the hub closes the socket and calls
   * {@linkcode Membership.leaveAll}.
   */
  hostAction(
    hostId: string,
    { event, channel, target }: { event: HostTargetEvent; channel: string; target: string },
  ): boolean {
    if (!this.allowHost(hostId, channel, event)) return false;
    const knocker = event === "admit" || event === "deny";
    const known = knocker
      ? this.#authority.isKnocking(channel, target)
      : this.#registry.isMember(target, channel) && (event !== "remove" || target !== hostId);
    if (!known) {
      this.#refuse(hostId, {
        code: "unknown_peer",
        message: `Cannot ${event} peer "${target}": not ${
          knocker ? "waiting to enter" : "in"
        } channel "${channel}"`,
        event,
      });
      return false;
    }
    switch (event) {
      case "makeHost":
        if (this.#authority.makeHost(channel, target)) {
          this.#tellChange(channel, { hosts: true, knocks: false, newHosts: [target] });
        }
        return true;
      case "mute":
        this.#deliver(target, { event: "muted", data: { channel, by: hostId } });
        return true;
      case "remove":
        // A host closing a tab of their own browser does not shut that browser out.
        if (!this.#authority.sameBrowser(channel, target).includes(hostId)) {
          this.#authority.rememberRemoved(channel, target);
        }
        return true;
      case "admit":
      case "deny": {
        const knock = this.#authority.takeKnock(channel, target)!;
        this.#tellHostsKnocks(channel);
        if (event === "deny") {
          this.#deliver(target, { event: "denied", data: { channel } });
        } else {
          this.join(target, {
            channel,
            userdata: knock.userdata,
            admitted: true,
            browser: knock.browser,
          });
        }
        return true;
      }
    }
  }

  /** A host locks or unlocks `channel`; every member hears the new `roomState`. */
  lock(hostId: string, channel: string, locked: boolean): void {
    if (!this.allowHost(hostId, channel, "lock")) return;
    if (this.#authority.setLocked(channel, locked)) this.#announce(channel);
  }

  /**
   * A host sets (a hash computed by the caller) or clears `channel`'s
   * password; the role is checked again, since hashing took a while.
   */
  setPassword(hostId: string, channel: string, password: PasswordRecord | null): void {
    if (!this.allowHost(hostId, channel, "setPassword")) return;
    if (this.#authority.setPassword(channel, password)) this.#announce(channel);
  }

  /**
   * Ends the wait of rooms restored after a restart (see
   * {@linkcode Authority.sweep}) and tells members and hosts what changed.
   */
  sweep(now?: number): void {
    for (const [channel, change] of this.#authority.sweep(this.#holds, now)) {
      this.#tellChange(channel, change);
    }
  }

  /** Warns every host present in `channel` (`roomAlert`). */
  alertHosts(channel: string, alert: RoomAlert): void {
    for (const host of this.#authority.hostsOf(channel)) {
      if (this.#registry.isMember(host, channel)) {
        this.#deliver(host, { event: "roomAlert", data: { channel, alert } });
      }
    }
  }

  /** Sends `message` to everyone `peerId` shares a channel with (`peerAway`, `peerBack`). */
  tellNeighbours(peerId: string, message: ServerMessage): void {
    for (const other of this.#registry.neighboursOf(peerId)) this.#deliver(other, message);
  }

  /** `roomState` to every member (hosts, lock or password changed), but `except`. */
  #announce(channel: string, except?: string) {
    for (const member of this.#registry.membersOf(channel)) {
      if (member !== except) this.#tellState(member, channel);
    }
  }

  #tellState(peerId: string, channel: string) {
    const state = this.#authority.stateOf(channel);
    if (state !== undefined) this.#deliver(peerId, { event: "roomState", data: state });
  }

  /** The frames a change of hosts or knocks sends. */
  #tellChange(channel: string, change: Change) {
    if (change.hosts) this.#announce(channel);
    if (change.knocks) this.#tellHostsKnocks(channel);
    // Pending requests reach someone who becomes host later.
    else for (const host of change.newHosts) this.#tellKnocks(host, channel);
  }

  /** The whole pending list to every host present. */
  #tellHostsKnocks(channel: string) {
    for (const host of this.#authority.hostsOf(channel)) {
      if (this.#registry.isMember(host, channel)) this.#tellKnocks(host, channel, true);
    }
  }

  /** The pending list to one host; an empty one only when it changed (`always`). */
  #tellKnocks(hostId: string, channel: string, always = false) {
    const knocks = this.#authority.knocksOf(channel);
    if (knocks.length === 0 && !always) return;
    this.#deliver(hostId, { event: "knocks", data: { channel, knocks } });
  }

  /**
   * The one gate every admission to a room passes — a `join`, an admitted
   * knock, and the rejoin of a resume. Room policy plugs in here: the lock,
   * removed browsers and the password decide whether `peerId` may enter
   * `channel`; a password to check comes back as its record.
   */
  #admit(peerId: string, request: JoinOptions): Refusal | PasswordRecord | undefined {
    const { channel } = request;
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
    const entry: Entry = request.admitted ? "admitted" : request.quiet ? "rejoin" : "join";
    const { browser, password } = request;
    const admission = this.#authority.admit(channel, peerId, { entry, browser, password });
    if (!admission.ok) {
      return {
        code: admission.code,
        message: admission.code === "room_locked"
          ? `Cannot join channel "${channel}": the room is locked; knock to ask a host`
          : `Cannot join channel "${channel}": the room needs a password`,
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
    if (admission.verify !== undefined && admission.verify.salt !== request.verified) {
      return admission.verify;
    }
    return undefined;
  }
}
