/**
 * Room state frames: what members and hosts hear when a room's authority
 * changes — `roomState` (hosts, lock, password) to every member, the
 * pending `knocks` list to every host present, `roomAlert` to the hosts.
 * Sent through the hub's delivery callback by peer id; `membership.ts`
 * and `host_actions.ts` say when.
 *
 * @module
 */

import type { Authority, Change } from "./authority.ts";
import type { RoomAlert, ServerMessage } from "./protocol.ts";
import type { Registry } from "./registry.ts";

/** What {@linkcode RoomFrames} reads and sends through. */
export interface RoomFramesOptions {
  registry: Registry;
  authority: Authority;
  /** Sends a frame to a peer by id (the hub's one delivery path). */
  deliver(peerId: string, message: ServerMessage): void;
}

/** Sends the frames a change of a room's authority causes. */
export class RoomFrames {
  readonly #registry: Registry;
  readonly #authority: Authority;
  readonly #deliver: RoomFramesOptions["deliver"];

  /** Frames about the rooms in `options.registry`, sent through `options.deliver`. */
  constructor(options: RoomFramesOptions) {
    this.#registry = options.registry;
    this.#authority = options.authority;
    this.#deliver = options.deliver;
  }

  /** `roomState` to every member (hosts, lock or password changed), but `except`. */
  announce(channel: string, except?: string): void {
    for (const member of this.#registry.membersOf(channel)) {
      if (member !== except) this.tellState(member, channel);
    }
  }

  /** `roomState` to one member, if the room has state. */
  tellState(peerId: string, channel: string): void {
    const state = this.#authority.stateOf(channel);
    if (state !== undefined) this.#deliver(peerId, { event: "roomState", data: state });
  }

  /** The frames a change of hosts or knocks sends. */
  tellChange(channel: string, change: Change): void {
    if (change.hosts) this.announce(channel);
    if (change.knocks) this.tellHostsKnocks(channel);
    // Pending requests reach someone who becomes host later.
    else for (const host of change.newHosts) this.tellKnocks(host, channel);
  }

  /** The whole pending list to every host present (it changed: an empty one too). */
  tellHostsKnocks(channel: string): void {
    for (const host of this.#authority.hostsOf(channel)) {
      if (!this.#registry.isMember(host, channel)) continue;
      const knocks = this.#authority.knocksOf(channel);
      this.#deliver(host, { event: "knocks", data: { channel, knocks } });
    }
  }

  /** The pending list to one host, unless nobody is waiting. */
  tellKnocks(hostId: string, channel: string): void {
    const knocks = this.#authority.knocksOf(channel);
    if (knocks.length === 0) return;
    this.#deliver(hostId, { event: "knocks", data: { channel, knocks } });
  }

  /** Warns every host present in `channel` (`roomAlert`). */
  alertHosts(channel: string, alert: RoomAlert): void {
    for (const host of this.#authority.hostsOf(channel)) {
      if (this.#registry.isMember(host, channel)) {
        this.#deliver(host, { event: "roomAlert", data: { channel, alert } });
      }
    }
  }
}
