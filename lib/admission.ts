/**
 * Admission: the one gate every entry to a room passes — a `join`, a host's
 * admitted knock, the rejoin of a resume — checking, in this order, a
 * double join, the connection's channel limit, the room's lock, removed
 * browsers and password (`authority.ts`), and the room's capacity; and the
 * knock, which queues a person at a door the gate would shut, or lets them
 * in at once when nothing keeps them out. `membership.ts` sends the frames
 * of the join that follows.
 *
 * @module
 */

import type { Authority, Entry } from "./authority.ts";
import type { PasswordRecord } from "./password.ts";
import {
  cleanName,
  type ErrorCode,
  type KnockRequest,
  type ServerMessage,
  type UserData,
} from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { RoomFrames } from "./room_frames.ts";

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

/** What a {@linkcode Gate} reads, and how it answers. */
export interface GateOptions {
  registry: Registry;
  authority: Authority;
  frames: RoomFrames;
  /** Members one channel may hold. */
  maxPeers: number;
  /** Channels one connection may be in at once. */
  maxChannels: number;
  /** Sends a frame to a peer by id. */
  deliver(peerId: string, message: ServerMessage): void;
  /** Answers a peer's refused frame with an `error`. */
  refuse(peerId: string, refusal: Refusal): void;
  /** Joins `peerId` (a knock nothing keeps out). */
  join(peerId: string, request: JoinOptions): void;
}

/** Who may enter a room, and knocks at its door. */
export class Gate {
  readonly #o: GateOptions;

  /** A gate to the rooms in `options.registry`. */
  constructor(options: GateOptions) {
    this.#o = options;
  }

  /**
   * Whether `peerId` may enter `request.channel`: undefined if so, the
   * refusal if not, or the password record the join's password must first
   * be checked against. Room policy plugs in here: the lock, removed
   * browsers and the password.
   */
  check(peerId: string, request: JoinOptions): Refusal | PasswordRecord | undefined {
    const { registry, authority, maxChannels, maxPeers } = this.#o;
    const { channel } = request;
    if (registry.isMember(peerId, channel)) {
      return {
        code: "already_joined",
        message: `Cannot join channel "${channel}": already joined`,
        event: "join",
      };
    }
    if (registry.channelsOf(peerId).size >= maxChannels) {
      return {
        code: "too_many_channels",
        message: `Cannot join channel "${channel}": already in ${maxChannels} channels`,
        event: "join",
      };
    }
    const entry: Entry = request.admitted ? "admitted" : request.quiet ? "rejoin" : "join";
    const { browser, password } = request;
    const admission = authority.admit(channel, peerId, { entry, browser, password });
    if (!admission.ok) {
      return {
        code: admission.code,
        message: admission.code === "room_locked"
          ? `Cannot join channel "${channel}": the room is locked; knock to ask a host`
          : `Cannot join channel "${channel}": the room needs a password`,
        event: "join",
      };
    }
    if (registry.size(channel) >= maxPeers) {
      return {
        code: "channel_full",
        message: `Cannot join channel "${channel}": it is full (${maxPeers} peers)`,
        event: "join",
      };
    }
    if (admission.verify !== undefined && admission.verify.salt !== request.verified) {
      return admission.verify;
    }
    return undefined;
  }

  /**
   * A knock on `channel`'s door: queued for the hosts (the knocker hears
   * `knocking`, every host the new pending list), or, when nothing keeps
   * the knocker out, a join at once.
   */
  knock(peerId: string, request: KnockRequest): void {
    const { registry, authority, refuse } = this.#o;
    const { channel, userdata, browser } = request;
    if (registry.isMember(peerId, channel)) {
      return refuse(peerId, {
        code: "already_joined",
        message: `Cannot knock on channel "${channel}": already joined`,
        event: "knock",
      });
    }
    const knock = { peerId, name: cleanName(userdata.name), userdata, browser };
    if (browser === undefined) delete knock.browser;
    const outcome = authority.knock(channel, knock);
    if (outcome === "enter") return this.#o.join(peerId, { channel, userdata, browser });
    if (outcome === "full") {
      return refuse(peerId, {
        code: "rate_limited",
        message: `Cannot knock on channel "${channel}": too many people are waiting`,
        event: "knock",
      });
    }
    this.#o.deliver(peerId, { event: "knocking", data: { channel } });
    this.#o.frames.tellHostsKnocks(channel);
  }
}
