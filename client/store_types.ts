/**
 * The call model's types: what the store (`store.ts`) holds and what its
 * actions take — participants, chat, devices, the room's authority, the
 * gate before a room — and the limits on what it keeps.
 *
 * @module
 */

import type { Diagnosis } from "./diagnosis.ts";
import type { VerifiedStatus } from "./verified_store.ts";

/** Which screen the user is on. */
export type Phase = "lobby" | "prejoin" | "joining" | "in-call";

/** A remote participant as the UI shows them. */
export interface Participant {
  id: string;
  name: string;
  /** Their audio and video in one stream (one element per participant). */
  stream: MediaStream | null;
  /** Their screen share, shown as an extra tile. */
  screen: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
  handRaised: boolean;
  /** Why the connection is failing, when it is. */
  diagnosis: Diagnosis | null;
  /** Their signaling connection dropped; the server holds their place. */
  away: boolean;
  /** `RTCPeerConnection.connectionState`. */
  connection: RTCPeerConnectionState;
  /** The security code of our connection to them, and whether we verified it. */
  security: SecurityView;
}

/** A remote participant's security code as the UI shows it. */
export interface SecurityView {
  /** The exchange is running, done, or failed ("Could not verify this connection"). */
  state: "pending" | "code" | "failed";
  /** The 15 digits while `state` is "code", else `null`. */
  code: string | null;
  /** Whether this code is the one we verified for their browser ("changed": another was). */
  verified: VerifiedStatus;
  /** Whether they told us their browser id, under which a verification is remembered. */
  canVerify: boolean;
  /** What the code was derived from, while there is one: to check it by hand. */
  details: {
    local: readonly string[];
    remote: readonly string[];
    localValue: string;
    remoteValue: string;
  } | null;
}

/** A participant's security code before anything is known. */
export const PENDING_SECURITY: SecurityView = Object.freeze({
  state: "pending",
  code: null,
  verified: "unverified",
  canVerify: false,
  details: null,
});

/** One chat line. */
export interface ChatMessage {
  id: number;
  /** Sender's peer id; `null` for our own messages. */
  from: string | null;
  name: string;
  text: string;
  /** Milliseconds since the epoch, as the receiver saw it arrive. */
  at: number;
}

/** Something screen-reader users are told: a join, a leave, a message, a hand. */
export interface Announcement {
  id: number;
  text: string;
}

/** Announcements kept in the live region; a reader has spoken older ones. */
export const MAX_ANNOUNCEMENTS = 5;

/** How many chat lines are kept; older ones scroll away for good. */
export const MAX_CHAT_MESSAGES = 200;

// Names are cleaned the same way on both sides: the server cleans knock names.

/** Media devices by kind, as `enumerateDevices()` lists them. */
export interface DeviceLists {
  audioinput: { id: string; label: string }[];
  videoinput: { id: string; label: string }[];
  audiooutput: { id: string; label: string }[];
}

/** The device chosen for each kind; `""` means the browser's default. */
export type DeviceChoice = Record<keyof DeviceLists, string>;

/** A popover of the call's controls. */
export type Panel = "people" | "settings" | "help";

/** Options for a new {@linkcode CallModel}. */
export interface CallModelOptions {
  /** The room from the URL, or `null` on the lobby page. */
  room: string | null;
  /** The name remembered from last time. */
  name: string;
  /** Whether the chat panel starts open (phones fold it away). Default false. */
  chatOpen?: boolean;
  /** The room password to join with (from the invite link's `#`). Default `""`. */
  password?: string;
  /** Whether the browser can route audio to a chosen speaker. Default false. */
  canPickSpeaker?: boolean;
  /** Whether this browser can share a screen (phones cannot). Default false. */
  canShareScreen?: boolean;
}

/** A room's authority as the server last said it (`roomState`). */
export interface RoomAuthority {
  hosts: readonly string[];
  locked: boolean;
  /** Whether the room has a password (never the password itself). */
  password: boolean;
}

/**
 * What stands between us and the room: a lock, our knock waiting, a
 * password, or a password room that refuses tries for now (`busy`: knock).
 */
export type Gate = "locked" | "knocking" | "password" | "busy" | null;

export type { Door } from "../lib/protocol.ts";

/** Someone asking to be let in, as hosts see them. */
export interface Knock {
  id: string;
  name: string;
}

/** A camera or microphone choice (speakers are chosen, never lost mid-call). */
export type InputKind = Exclude<keyof DeviceLists, "audiooutput">;
