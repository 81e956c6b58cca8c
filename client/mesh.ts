/**
 * The mesh: one {@linkcode Peer} per remote participant, created and
 * removed as the server says, with signaling routed to the right one.
 * Writes what it learns into the store — streams, mute/camera/hand state,
 * quality, who speaks, why a connection fails — and adapts every video
 * sender to the room size. Takes the connection factory and the signaling
 * `send` as arguments so tests drive it with fakes.
 *
 * @module
 */

import type { ClientMessage, ServerMessage } from "../lib/protocol.ts";
import { applyEncoding, videoEncodingFor } from "./adaptive.ts";
import { diagnose } from "./diagnosis.ts";
import { type LocalTrack, type MediaKind, Peer, type PeerSignal } from "./peer.ts";
import { encodePeerMessage, parsePeerMessage } from "./peer_message.ts";
import {
  localAudioLevel,
  pickActiveSpeaker,
  type SpeakerState,
  type StatsSample,
  summarizeStats,
} from "./quality.ts";
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
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Where failures are reported. Default `console.warn`. */
  onError?(peerId: string, error: unknown): void;
  /** How long a connection may stay "connecting" before it is diagnosed, ms. Default 10,000. */
  stuckAfterMs?: number;
}

/** Chat and state messages one peer may send in a burst. */
export const PEER_MESSAGE_BURST = 20;

/** Sustained chat and state messages per second from one peer; more are dropped. */
export const PEER_MESSAGES_PER_SECOND = 5;

/** Per-peer bookkeeping beside the Peer itself. */
interface Entry {
  peer: Peer;
  name: string;
  addedAt: number;
  /** Every remote stream seen, by id (camera and screen arrive separately). */
  streams: Map<string, MediaStream>;
  /** The stream id they announced as their screen share. */
  screenId: string | null;
  sample: StatsSample | null;
  /** Token bucket for their data channel messages. */
  allowance: { tokens: number; at: number };
}

/** All peer connections of one call. */
export class Mesh {
  #options: MeshOptions;
  #entries = new Map<string, Entry>();
  #iceServers: RTCIceServer[] = [];
  #speaker: SpeakerState = { id: null, since: 0 };
  /** After a server restart: the peers the server has introduced again. */
  #reintroduced: Set<string> | null = null;
  #now: () => number;

  constructor(options: MeshOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Peer ids with a live connection. */
  get peerIds(): string[] {
    return [...this.#entries.keys()];
  }

  /** The connection to `peerId`, if any (for stats and tests). */
  peer(peerId: string): Peer | undefined {
    return this.#entries.get(peerId)?.peer;
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
        return void this.#entries.get(message.data.peer_id)?.peer.receive({
          description: message.data.session_description,
        });
      case "iceCandidate":
        return void this.#entries.get(message.data.peer_id)?.peer.receive({
          candidate: message.data.ice_candidate,
        });
    }
  }

  /** Sends `local` (or stops sending, with `null`) as `kind` to everyone. */
  async setTrack(kind: MediaKind, local: LocalTrack | null): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map(({ peer }) => peer.setTrack(kind, local)),
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
      at: this.#now(),
    });
    return true;
  }

  /** Tells everyone our microphone, camera, hand and screen state. */
  announceState(): void {
    this.broadcast(this.#stateMessage());
  }

  /** Sends a raw data channel message to every open peer. */
  broadcast(data: string): void {
    for (const { peer } of this.#entries.values()) peer.send(data);
  }

  /** Restarts ICE on every connection that is not healthy (after a network change). */
  restartUnhealthy(): void {
    for (const { peer } of this.#entries.values()) {
      if (peer.pc.connectionState !== "connected") peer.restartIce();
    }
  }

  /**
   * Closes and forgets one peer, removing its tile; `announce` (default
   * true) tells screen-reader users they left.
   */
  remove(peerId: string, { announce = true }: { announce?: boolean } = {}): void {
    const entry = this.#entries.get(peerId);
    if (entry === undefined) return;
    this.#entries.delete(peerId);
    entry.peer.close();
    this.#options.store.removeParticipant(peerId, { announce });
    void this.adaptQuality();
  }

  /**
   * The server restarted and is rebuilding its rooms from resuming
   * clients: start noting which of our peers it introduces again.
   */
  expectReintroductions(): void {
    this.#reintroduced = new Set();
  }

  /**
   * Ends the wait begun by {@linkcode expectReintroductions}: peers the
   * restarted server never reintroduced left while it was down.
   */
  dropUnintroduced(): void {
    const seen = this.#reintroduced;
    this.#reintroduced = null;
    if (seen === null) return;
    for (const peerId of this.peerIds) if (!seen.has(peerId)) this.remove(peerId);
  }

  /** Closes every peer connection: we are the one leaving. */
  closeAll(): void {
    for (const peerId of [...this.#entries.keys()]) this.remove(peerId, { announce: false });
  }

  /**
   * Polls every connection's stats once: quality per peer, the active
   * speaker, a diagnosis for connections stuck connecting, and sender
   * quality for the room size. The caller runs this on an interval.
   */
  async sampleStats(): Promise<void> {
    const { store } = this.#options;
    const now = this.#now();
    const levels = new Map<string, number>();
    let ownLevel = 0;
    await Promise.all([...this.#entries].map(async ([peerId, entry]) => {
      let entries;
      try {
        entries = await entry.peer.stats();
      } catch {
        return; // closed meanwhile
      }
      const { quality, sample } = summarizeStats(entries, { previous: entry.sample, now });
      entry.sample = sample;
      ownLevel = Math.max(ownLevel, localAudioLevel(entries));
      const participant = store.participants.value.get(peerId);
      if (participant === undefined) return;
      if (participant.micOn) levels.set(peerId, quality.audioLevel);
      const stuck = participant.connection !== "connected" &&
        now - entry.addedAt > (this.#options.stuckAfterMs ?? 10_000);
      store.patchParticipant(peerId, {
        quality,
        diagnosis: stuck || participant.connection === "failed"
          ? diagnose(
            entry.peer.iceFacts(
              this.#iceServers,
              participant.connection === "failed",
            ),
            entry.name,
          )
          : null,
      });
    }));
    if (store.micOn.value) levels.set("self", ownLevel);
    this.#speaker = pickActiveSpeaker(levels, { current: this.#speaker, now });
    store.activeSpeaker.value = this.#speaker.id;
    await this.adaptQuality();
  }

  /** Sets every video sender's bitrate and resolution for the room size. */
  async adaptQuality(): Promise<void> {
    const others = this.#entries.size;
    await Promise.all(
      [...this.#entries.values()].flatMap(({ peer }) =>
        peer.videoSenders().map(({ source, sender }) =>
          applyEncoding(sender, videoEncodingFor(others, source)).catch(() => false)
        )
      ),
    );
  }

  #stateMessage(): string {
    const { store } = this.#options;
    return encodePeerMessage({
      type: "state",
      mic: store.micOn.value,
      cam: store.camOn.value,
      hand: store.handRaised.value,
      screen: store.screenStream.value?.id ?? null,
    });
  }

  #add(peerId: string, polite: boolean, initiator: boolean, name: string) {
    if (this.#entries.has(peerId)) {
      // A repeated addPeer (after a resume) keeps the call and its roles.
      this.#reintroduced?.add(peerId);
      return;
    }
    const { store } = this.#options;
    const create = this.#options.createConnection ??
      ((config: RTCConfiguration) => new RTCPeerConnection(config));
    const pc = create({ iceServers: this.#iceServers });
    // The polite side is the member who was there first: the other one just joined.
    store.addParticipant(peerId, name, { announce: polite });
    const entry: Entry = {
      name,
      addedAt: this.#now(),
      streams: new Map(),
      screenId: null,
      sample: null,
      allowance: { tokens: PEER_MESSAGE_BURST, at: this.#now() },
      peer: new Peer(pc, {
        polite,
        initiator,
        tracks: this.#options.localTracks(),
        signal: (message) => this.#relay(peerId, message),
        onStream: (stream) => {
          entry.streams.set(stream.id, stream);
          this.#showStreams(peerId, entry);
        },
        onMessage: (data) => this.#onPeerMessage(peerId, entry, data),
        onChannelOpen: () => entry.peer.send(this.#stateMessage()),
        onConnectionState: (state) => {
          store.patchParticipant(peerId, {
            connection: state,
            ...(state === "connected" ? { diagnosis: null } : {}),
          });
          if (state === "connected") void this.adaptQuality();
          if (state === "failed") {
            store.patchParticipant(peerId, {
              diagnosis: diagnose(
                entry.peer.iceFacts(this.#iceServers, true),
                name,
              ),
            });
          }
        },
        onError: (error) => (this.#options.onError ?? defaultOnError)(peerId, error),
      }),
    };
    this.#entries.set(peerId, entry);
    void this.adaptQuality();
  }

  /** Camera stream on the tile, the announced screen stream on its own tile. */
  #showStreams(peerId: string, entry: Entry) {
    let main: MediaStream | null = null;
    for (const [id, stream] of entry.streams) {
      if (id !== entry.screenId) {
        main = stream;
        break;
      }
    }
    const screen = entry.screenId === null ? null : entry.streams.get(entry.screenId) ?? null;
    this.#options.store.patchParticipant(peerId, { stream: main, screen });
  }

  #relay(peerId: string, message: PeerSignal) {
    if ("description" in message) {
      const { type, sdp = "" } = message.description;
      this.#options.send({
        event: "relaySessionDescription",
        data: { peer_id: peerId, session_description: { type, sdp } },
      });
    } else {
      const { candidate = "", sdpMid, sdpMLineIndex, usernameFragment } = message.candidate;
      this.#options.send({
        event: "relayICECandidate",
        data: {
          peer_id: peerId,
          ice_candidate: { candidate, sdpMid, sdpMLineIndex, usernameFragment },
        },
      });
    }
  }

  #onPeerMessage(peerId: string, entry: Entry, data: string) {
    // A flooding peer must not bury the chat or freeze this tab.
    const now = this.#now();
    const allowance = entry.allowance;
    allowance.tokens = Math.min(
      PEER_MESSAGE_BURST,
      allowance.tokens + (now - allowance.at) * PEER_MESSAGES_PER_SECOND / 1000,
    );
    allowance.at = now;
    if (allowance.tokens < 1) return;
    allowance.tokens -= 1;
    const message = parsePeerMessage(data);
    const { store } = this.#options;
    const participant = store.participants.value.get(peerId);
    if (message === undefined || participant === undefined) return;
    if (message.type === "state") {
      if (entry.screenId !== null && message.screen !== entry.screenId) {
        entry.streams.delete(entry.screenId); // that share is over
      }
      entry.screenId = message.screen;
      store.patchParticipant(peerId, {
        micOn: message.mic,
        camOn: message.cam,
        handRaised: message.hand,
      });
      this.#showStreams(peerId, entry);
      return;
    }
    store.addChat({
      from: peerId,
      // The name the server introduced them with, not one in the message.
      name: participant.name,
      text: message.text,
      at: this.#now(),
    }, { panelOpen: this.#options.chatVisible?.() ?? true });
  }
}

function defaultOnError(peerId: string, error: unknown) {
  console.warn(`peer ${peerId}:`, error);
}
