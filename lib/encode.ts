/**
 * Frames written for the wire: any frame as JSON, and the join path's
 * `addPeer` written from its parts. The other direction — reading frames —
 * is `protocol.ts`, which re-exports these. Shared by the server and the
 * browser client, so it touches neither `Deno.*` nor the DOM.
 *
 * @module
 */

import type { ClientMessage, ServerMessage } from "./protocol.ts";

/** Serializes a frame for the wire. */
export function encode(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}

/**
 * `addPeer` as {@linkcode encode} writes it, from its parts (`userdata`
 * already JSON): a join sends one per pair each way, and the joiner's to
 * every member is the same text, so it is written once.
 */
export function encodeAddPeer(
  peerId: string,
  shouldCreateOffer: boolean,
  userdata: string,
): string {
  return `{"event":"addPeer","data":{"peer_id":${
    JSON.stringify(peerId)
  },"should_create_offer":${shouldCreateOffer},"polite":${!shouldCreateOffer},"userdata":${userdata}}}`;
}
