/**
 * The mesh: one {@linkcode Peer} per remote participant, created and
 * removed as the server says, with signaling routed to the right one.
 * Writes what it learns into the store; takes the connection factory and
 * the signaling `send` as arguments so tests drive it with fakes.
 *
 * @module
 */

import type { ClientMessage, ServerMessage } from "../lib/protocol.ts";
import {
  type LocalTrack,
  type MediaKind,
  Peer,
  type PeerSignal,
} from "./peer.ts";
import { encodePeerMessage, parsePeerMessage } from "./peer_message.ts";
import { type CallStore, cleanName } from "./store.ts";

/** Collaborators of a {@linkcode Mesh}. */
export interface MeshOptions {
  store: CallStore;
  /** Sends a frame to the signaling server. */
  send(message: ClientMessage): void;
  /** Default: `new RTCPeerConnection(config)`. */
  createConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** The tracks to send to a newly added peer. */
  localTracks(): LocalTrack[];
  /** Whether the chat panel is showing (for the unread count). */
  chatVisible?(): boolean;
  /** Clock for chat timestamps. Default `Date.now`. */
  now?: () => number;
  /** Where failures are reported. Default `console.warn`. */
  onError?(peerId: string, error: unknown): void;
}

/** All peer connections of one call. */
export class Mesh {
  #options: MeshOptions;
  #peers = new Map<string, Peer>();
  #iceServers: RTCIceServer[] = [];

  constructor(options: MeshOptions) {
    this.#options = options;
  }

  /** Peer ids with a live connection. */
  get peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /** The connection to `peerId`, if any (for stats and tests). */
  peer(peerId: string): Peer | undefined {
    return this.#peers.get(peerId);
  }

  /** Reacts to one server frame. */
  handle(message: ServerMessage): void {
    switch (message.event) {
      case "welcome":
        this.#iceServers = message.data.ice_servers;
        this.#options.store.selfId.value = message.data.peer_id;
        return;
      case "addPeer":
        return this.#add(
          message.data.peer_id,
          message.data.polite,
          message.data.should_create_offer,
          cleanName(message.data.userdata.name),
        );
      case "removePeer":
        return this.remove(message.data.peer_id);
      case "sessionDescription":
        return void this.#peers.get(message.data.peer_id)?.receive({
          description: message.data.session_description,
        });
      case "iceCandidate":
        return void this.#peers.get(message.data.peer_id)?.receive({
          candidate: message.data.ice_candidate,
        });
    }
  }

  /** Sends `local` (or stops sending, with `null`) as `kind` to everyone. */
  async setTrack(kind: MediaKind, local: LocalTrack | null): Promise<void> {
    await Promise.all(
      [...this.#peers.values()].map((peer) => peer.setTrack(kind, local)),
    );
  }

  /** Sends a chat line to everyone and shows it locally. */
  sendChat(text: string): boolean {
    const message = parsePeerMessage(encodePeerMessage({ type: "chat", text }));
    if (message?.type !== "chat") return false;
    this.broadcast(encodePeerMessage(message));
    const { store } = this.#options;
    store.addChat({
      from: null,
      name: store.name.value,
      text: message.text,
      at: (this.#options.now ?? Date.now)(),
    });
    return true;
  }

  /** Tells everyone our microphone and camera state. */
  announceState(): void {
    this.broadcast(this.#stateMessage());
  }

  /** Sends a raw data channel message to every open peer. */
  broadcast(data: string): void {
    for (const peer of this.#peers.values()) peer.send(data);
  }

  /** Closes and forgets one peer, removing its tile. */
  remove(peerId: string): void {
    const peer = this.#peers.get(peerId);
    if (peer === undefined) return;
    this.#peers.delete(peerId);
    peer.close();
    this.#options.store.removeParticipant(peerId);
  }

  /** Closes every peer connection. */
  closeAll(): void {
    for (const peerId of [...this.#peers.keys()]) this.remove(peerId);
  }

  #stateMessage(): string {
    const { store } = this.#options;
    return encodePeerMessage({
      type: "state",
      mic: store.micOn.value,
      cam: store.camOn.value,
    });
  }

  #add(peerId: string, polite: boolean, initiator: boolean, name: string) {
    const existing = this.#peers.get(peerId);
    if (existing !== undefined) return; // a repeated addPeer keeps the call
    const { store } = this.#options;
    const create = this.#options.createConnection ??
      ((config: RTCConfiguration) => new RTCPeerConnection(config));
    const pc = create({ iceServers: this.#iceServers });
    store.addParticipant(peerId, name);
    const peer = new Peer(pc, {
      polite,
      initiator,
      tracks: this.#options.localTracks(),
      signal: (message) => this.#relay(peerId, message),
      onStream: (stream) => {
        // A fresh Map entry makes the tile re-render for a new track too.
        store.patchParticipant(peerId, { stream });
      },
      onMessage: (data) => this.#onPeerMessage(peerId, data),
      onChannelOpen: () => peer.send(this.#stateMessage()),
      onConnectionState: (state) => {
        store.patchParticipant(peerId, { connection: state });
        if (state === "failed" || state === "closed") this.remove(peerId);
      },
      onError: (error) =>
        (this.#options.onError ?? defaultOnError)(peerId, error),
    });
    this.#peers.set(peerId, peer);
  }

  #relay(peerId: string, message: PeerSignal) {
    if ("description" in message) {
      const { type, sdp = "" } = message.description;
      this.#options.send({
        event: "relaySessionDescription",
        data: { peer_id: peerId, session_description: { type, sdp } },
      });
    } else {
      const { candidate = "", sdpMid, sdpMLineIndex, usernameFragment } =
        message.candidate;
      this.#options.send({
        event: "relayICECandidate",
        data: {
          peer_id: peerId,
          ice_candidate: { candidate, sdpMid, sdpMLineIndex, usernameFragment },
        },
      });
    }
  }

  #onPeerMessage(peerId: string, data: string) {
    const message = parsePeerMessage(data);
    const { store } = this.#options;
    const participant = store.participants.value.get(peerId);
    if (message === undefined || participant === undefined) return;
    if (message.type === "state") {
      store.patchParticipant(peerId, {
        micOn: message.mic,
        camOn: message.cam,
      });
      return;
    }
    store.addChat({
      from: peerId,
      // The name the server introduced them with, not one in the message.
      name: participant.name,
      text: message.text,
      at: (this.#options.now ?? Date.now)(),
    }, { panelOpen: this.#options.chatVisible?.() ?? true });
  }
}

function defaultOnError(peerId: string, error: unknown) {
  console.warn(`peer ${peerId}:`, error);
}
