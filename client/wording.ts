/**
 * What the app says to people when something goes wrong or changes: the
 * words for server errors, media failures, a lost server and device
 * labels, in one table each, so the wording can be reviewed (and one day
 * translated) without reading the call logic.
 *
 * @module
 */

import type { ErrorCode } from "../lib/protocol.ts";
import type { GiveUpReason } from "./signaling.ts";

/** Names for unlabelled devices ("Camera 2") by `MediaDeviceInfo.kind`. */
export const KIND_LABEL: Record<string, string> = {
  audioinput: "Microphone",
  videoinput: "Camera",
  audiooutput: "Speaker",
};

/** Why the signaling connection gave up, in words. */
export const GIVE_UP_TEXT: Record<GiveUpReason, string> = {
  unreachable: "Cannot reach the server. Check your connection and try again.",
  replaced: "This call continued in another tab or window.",
  refused: "The server closed the connection. Try joining again.",
  removed: "You were removed from the room.",
  // Never shown: an idle pre-join connection comes back without a word.
  idle: "The server closed the connection. Try joining again.",
};

/** Status lines shown in the call (the store's `notice`). */
export const NOTICE_TEXT = {
  serverLost:
    "Lost the connection to the server. Your current calls continue, but nobody new can join you. Leave and rejoin to reconnect.",
  rejoinedAsNew: "Reconnected to the server as a new participant.",
  noScreenShare: "This browser cannot share its screen.",
  screenShareFailed: "Screen sharing failed to start.",
  hostMuted: "A host muted your microphone. You can unmute yourself.",
  denied: "A host did not let you in.",
  wrongPasswords:
    "Many wrong passwords were tried for this room. Newcomers must wait a few minutes, or knock and be let in by a host.",
} as const;

/** What each server error code means to a person. */
const ERROR_TEXT: Record<ErrorCode, string> = {
  bad_message: "The app sent something the server could not read. Reload the page.",
  unknown_event: "This page is out of date for the server. Reload the page.",
  bad_request: "The server refused a request from this page. Reload the page.",
  already_joined: "You are already in this room (in another tab?).",
  not_joined: "You are not in this room any more.",
  unknown_peer: "Someone left before the connection to them was set up.",
  channel_full: "This room is full. Try again later or use another room.",
  too_many_channels: "This tab is in too many rooms at once.",
  message_too_large: "A message was too large for the server.",
  rate_limited: "Too many messages too fast; the server is slowing this tab down.",
  bad_token: "The server did not recognise this call any more; rejoining as new.",
  not_allowed: "Only a host of this room can do that.",
  room_locked: "This room is locked. Ask a host to let you in.",
  password_required: "This room needs a password.",
  wrong_password: "That password is not right.",
  unavailable: "The server is briefly cut off from the rest of the service. Try again in a moment.",
};

/** Plain words for a server `error` frame. */
export function describeServerError(code: ErrorCode, event?: string): string {
  if (code === "rate_limited" && (event === "join" || event === "knock")) {
    return ENTRY_LIMITED_TEXT;
  }
  return ERROR_TEXT[code];
}

/** A join or knock refused by a budget (too many tries here or at this room). */
const ENTRY_LIMITED_TEXT =
  "Too many attempts to enter this room right now. Wait a few minutes, or ask a host to let you in.";

/** Plain words for a getUserMedia failure. */
export function describeMediaError(error: unknown): string {
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone access was denied. Allow it in the browser's site settings, or join without them.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found. You can join without them and still see and hear others.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another app. Close it, or join without them.";
    default:
      return "Camera and microphone are unavailable here. You can join without them.";
  }
}
