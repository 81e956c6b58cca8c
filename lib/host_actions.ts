/**
 * Host actions: what a host of a room may do, checked and applied — make
 * another member host, mute or remove one, admit or deny a knocker, lock
 * the room, set its password — with the frames each sends (`roomState`,
 * `knocks`, `muted`, `denied`, the join of an admitted knocker). The role
 * itself is in `authority.ts`; `membership.ts` hands these on.
 *
 * @module
 */

import type { JoinOptions, Refusal } from "./admission.ts";
import type { Authority } from "./authority.ts";
import type { PasswordRecord } from "./password.ts";
import type { HostTargetEvent, ServerMessage } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { RoomFrames } from "./room_frames.ts";

/** What {@linkcode HostActions} reads, and how it answers. */
export interface HostActionsOptions {
  registry: Registry;
  authority: Authority;
  frames: RoomFrames;
  /** Sends a frame to a peer by id. */
  deliver(peerId: string, message: ServerMessage): void;
  /** Answers a peer's refused frame with an `error`. */
  refuse(peerId: string, refusal: Refusal): void;
  /** Joins `peerId` (a knocker a host admitted). */
  join(peerId: string, request: JoinOptions): void;
}

/** A host's actions on a room and the people in it or at its door. */
export class HostActions {
  readonly #o: HostActionsOptions;

  /** Host actions on the rooms in `options.registry`. */
  constructor(options: HostActionsOptions) {
    this.#o = options;
  }

  /**
   * Checks that `peerId` holds the host role in `channel` (and is in it);
   * otherwise refuses `event` with `not_allowed` and returns false.
   */
  allow(peerId: string, channel: string, event: string): boolean {
    if (this.#o.registry.isMember(peerId, channel) && this.#o.authority.isHost(channel, peerId)) {
      return true;
    }
    this.#o.refuse(peerId, {
      code: "not_allowed",
      message: `Cannot ${event} in channel "${channel}": only a host of that room may`,
      event,
    });
    return false;
  }

  /**
   * A host's action on one person: `makeHost`, `mute` and `remove` aim at a
   * member, `admit` and `deny` at a knocker; anyone else is `unknown_peer`.
   * `remove` is only checked here: the hub closes the socket and has the
   * person leave every room.
   */
  act(
    hostId: string,
    { event, channel, target }: { event: HostTargetEvent; channel: string; target: string },
  ): boolean {
    const { registry, authority, frames, deliver } = this.#o;
    if (!this.allow(hostId, channel, event)) return false;
    const knocker = event === "admit" || event === "deny";
    const known = knocker
      ? authority.isKnocking(channel, target)
      : registry.isMember(target, channel) && (event !== "remove" || target !== hostId);
    if (!known) {
      this.#o.refuse(hostId, {
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
        if (authority.makeHost(channel, target)) {
          frames.tellChange(channel, { hosts: true, knocks: false, newHosts: [target] });
        }
        return true;
      case "mute":
        deliver(target, { event: "muted", data: { channel, by: hostId } });
        return true;
      case "remove":
        // A host closing a tab of their own browser does not shut that browser out.
        if (!authority.sameBrowser(channel, target).includes(hostId)) {
          authority.rememberRemoved(channel, target);
        }
        return true;
      case "admit":
      case "deny": {
        const knock = authority.takeKnock(channel, target)!;
        frames.tellHostsKnocks(channel);
        if (event === "deny") {
          deliver(target, { event: "denied", data: { channel } });
        } else {
          this.#o.join(target, {
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
    if (!this.allow(hostId, channel, "lock")) return;
    if (this.#o.authority.setLocked(channel, locked)) this.#o.frames.announce(channel);
  }

  /**
   * A host sets (a hash computed by the caller) or clears `channel`'s
   * password; the role is checked again, since hashing took a while.
   */
  setPassword(hostId: string, channel: string, password: PasswordRecord | null): void {
    if (!this.allow(hostId, channel, "setPassword")) return;
    if (this.#o.authority.setPassword(channel, password)) this.#o.frames.announce(channel);
  }
}
