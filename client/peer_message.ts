/**
 * Messages peers exchange directly over the "chat" RTCDataChannel — chat
 * text never passes through the server. Parsed like server frames: rebuilt
 * from checked fields, anything else dropped.
 *
 * @module
 */

import { stripUnprintable } from "../lib/protocol.ts";

/** Longest chat message, in characters. */
export const MAX_CHAT_LENGTH = 2000;

/** A message on the peer-to-peer data channel. */
export type PeerMessage =
  | { type: "chat"; text: string }
  | {
    type: "state";
    mic: boolean;
    cam: boolean;
    /** Raised hand (absent from older clients: false). */
    hand: boolean;
    /** The id of the stream carrying our screen share, or null. */
    screen: string | null;
  }
  | {
    /**
     * This browser's verification id (kept in `localStorage`, apart from the id the server knows): the label under
     * which a person's verified security code is remembered. Claimed by the
     * sender, never proof of anything: the code is what gets verified.
     */
    type: "browser";
    id: string;
  };

/** A verification id: 1–64 characters of `[A-Za-z0-9_-]`. */
export const BROWSER_LABEL = /^[A-Za-z0-9_-]{1,64}$/;

/** Serializes a peer message. */
export function encodePeerMessage(message: PeerMessage): string {
  return JSON.stringify(message);
}

/** Parses a data channel message; `undefined` for anything malformed. */
export function parsePeerMessage(data: unknown): PeerMessage | undefined {
  if (typeof data !== "string" || data.length > MAX_CHAT_LENGTH * 4) return;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const record = value as Record<string, unknown>;
  if (record.type === "chat" && typeof record.text === "string") {
    // Bidi overrides and invisible characters would let a line spoof the UI, as in names.
    const text = stripUnprintable(record.text, { keepNewlines: true }).trim()
      .slice(0, MAX_CHAT_LENGTH);
    return text === "" ? undefined : { type: "chat", text };
  }
  if (record.type === "browser") {
    return typeof record.id === "string" && BROWSER_LABEL.test(record.id)
      ? { type: "browser", id: record.id }
      : undefined;
  }
  if (
    record.type === "state" && typeof record.mic === "boolean" &&
    typeof record.cam === "boolean"
  ) {
    return {
      type: "state",
      mic: record.mic,
      cam: record.cam,
      hand: record.hand === true,
      screen: typeof record.screen === "string" && record.screen.length <= 128
        ? record.screen
        : null,
    };
  }
}
