/**
 * The mesh: one {@linkcode Peer} per remote participant, created and
 * removed as the call's dispatcher (`call.ts`) says, with signaling routed
 * to the right one. Writes what peers tell it into the store — streams,
 * mute/camera/hand state, connection state, chat, each connection's
 * security code (`peer_security.ts`) and whether we verified it — and tells its listener
 * (the `Monitor`) when peers come, go or change connection state. Takes
 * the connection factory and the signaling `send` as arguments so tests
 * drive it with fakes.
 *
 * @module
 */

import type { ClientMessage } from "../lib/protocol.ts";
import type { Timers } from "./_timers.ts";
import { type LocalTrack, type MediaKind, Peer, type PeerSignal } from "./peer.ts";
import { videoEncodingFor, warmupEncoding } from "./adaptive.ts";
import { encodePeerMessage, parsePeerMessage } from "./peer_message.ts";
import { type CodeState, PeerSecurity } from "./peer_security.ts";
import type { PinnedCodes } from "./pinned_codes.ts";
import type { CallStore, SecurityView } from "./store.ts";
import type { VerifiedStore } from "./verified_store.ts";

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
  /** Clock in ms since the epoch (chat times, flood allowance). Default `Date.now`. */
  now?: () => number;
  /** Where failures are reported. Default `console.warn`. */
  onError?(peerId: string, error: unknown): void;
  /** Timers for each peer's ICE-restart wait. Default: the runtime's. */
  timers?: Timers;
  /** Who watches the connections (the monitor); told after the store is. */
  listener?: MeshListener;
  /** Security codes (issue 25); without them no code is ever shown. */
  security?: MeshSecurity;
}

/** What a {@linkcode Mesh} needs for security codes. */
export interface MeshSecurity {
  /** Our DTLS certificates for every new connection; none: the browser makes one per connection. */
  certificates(): RTCCertificate[];
  /** Codes pinned per pair of certificates. */
  pins: PinnedCodes;
  /** Whom this browser verified. */
  verified: VerifiedStore;
  /** Our verification id, told to every peer (not the one the server knows). */
  browserId: string;
  /** How long an exchange may take, in ms. Default `SAS_TIMEOUT_MS`. */
  timeoutMs?: number;
}

/** What a {@linkcode Mesh} tells whoever watches its connections. */
export interface MeshListener {
  /** A peer was added (its participant is in the store). */
  peerAdded(peerId: string): void;
  /** A peer was closed and removed. */
  peerRemoved(peerId: string): void;
  /** A peer's `connectionState` changed (already written to the store). */
  connectionChanged(peerId: string, state: RTCPeerConnectionState): void;
}

/** How the server introduced a peer (`addPeer`). */
export interface PeerIntroduction {
  /** The polite side yields on glare. */
  polite: boolean;
  /** `should_create_offer`: this side offers first. */
  initiator: boolean;
  /** Their display name, already cleaned. */
  name: string;
}

/** Chat and state messages one peer may send in a burst. */
export const PEER_MESSAGE_BURST = 20;

/** Sustained chat and state messages per second from one peer; more are dropped. */
export const PEER_MESSAGES_PER_SECOND = 5;

/** Per-peer bookkeeping beside the Peer itself. */
interface Entry {
  peer: Peer;
  /** Every remote stream seen, by id (camera and screen arrive separately). */
  streams: Map<string, MediaStream>;
  /** The stream id they announced as their screen share. */
  screenId: string | null;
  /** Token bucket for their data channel messages. */
  allowance: { tokens: number; at: number };
  /** The security code of this connection, with security codes on. */
  security: PeerSecurity | null;
  /** The verification id they told us. */
  browser: string | null;
}

/** All peer connections of one call. */
export class Mesh {
  #options: MeshOptions;
  #entries = new Map<string, Entry>();
  #iceServers: RTCIceServer[] = [];
  #icePolicy: RTCIceTransportPolicy = "all";
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

  /** The ICE servers new connections get (from the server's `welcome`). */
  get iceServers(): readonly RTCIceServer[] {
    return this.#iceServers;
  }

  /**
   * Uses `servers` and `policy` for connections made from now on, and hands
   * them to the existing ones.
   */
  setIceServers(servers: RTCIceServer[], policy: RTCIceTransportPolicy = "all"): void {
    this.#iceServers = servers;
    this.#icePolicy = policy;
    // Fresh credentials for connections that exist: their next ICE
    // gathering (a restart) uses them.
    for (const { peer } of this.#entries.values()) {
      peer.setConfiguration({ iceServers: servers, iceTransportPolicy: policy });
    }
  }

  /**
   * Connects to a peer the server introduced. A repeated introduction
   * (after a resume) keeps the call and its roles.
   */
  add(peerId: string, introduction: PeerIntroduction): void {
    if (this.#entries.has(peerId)) {
      this.#reintroduced?.add(peerId);
      return;
    }
    this.#add(peerId, introduction);
  }

  /** Hands a description or candidate from the server to `peerId`'s connection. */
  receive(peerId: string, signal: PeerSignal): void {
    void this.#entries.get(peerId)?.peer.receive(signal);
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

  /**
   * Marks `peerId`'s security code verified (remembered for their browser
   * id) — only if `code`, the one the person compared, is still the
   * current one — or with `null` removes the verification. Anyone else
   * from the same browser shows the change too.
   */
  setVerified(peerId: string, code: string | null): void {
    const entry = this.#entries.get(peerId);
    const security = this.#options.security;
    const current = entry?.security?.state;
    if (entry?.browser == null || security === undefined || current === undefined) return;
    if (code === null) security.verified.unverify(entry.browser);
    else if (current.state === "code" && current.code === code) {
      security.verified.verify(entry.browser, code);
    } else return;
    for (const [id, other] of this.#entries) this.#showSecurity(id, other);
  }

  /** Restarts ICE on every connection that is not healthy (after a network change). */
  restartUnhealthy(): void {
    for (const { peer } of this.#entries.values()) {
      if (peer.connectionState !== "connected") peer.restartIce();
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
    entry.security?.close();
    entry.peer.close();
    this.#options.store.removeParticipant(peerId, { announce });
    this.#options.listener?.peerRemoved(peerId);
  }

  /**
   * After a resume: keeps only `present` (the server's members of our
   * rooms), closing the rest — they left while we were away — without
   * touching the connections that still stand.
   */
  keepOnly(present: readonly string[]): void {
    const keep = new Set(present);
    for (const peerId of this.peerIds) if (!keep.has(peerId)) this.remove(peerId);
  }

  /**
   * `peerId` came back after a drop: a connection to it that never came up
   * (its offer or answer went to a server that then died) negotiates again.
   */
  renegotiate(peerId: string): void {
    const peer = this.#entries.get(peerId)?.peer;
    if (peer !== undefined && peer.connectionState !== "connected") peer.renegotiate();
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

  #add(peerId: string, { polite, initiator, name }: PeerIntroduction) {
    const { store, listener } = this.#options;
    const create = this.#options.createConnection ??
      ((config: RTCConfiguration) => new RTCPeerConnection(config));
    const security = this.#options.security;
    const certificates = security?.certificates() ?? [];
    const pc = create({
      iceServers: this.#iceServers,
      iceTransportPolicy: this.#icePolicy,
      ...(certificates.length > 0 ? { certificates } : {}),
    });
    // The polite side is the member who was there first: the other one just joined.
    store.addParticipant(peerId, name, { announce: polite });
    const entry: Entry = {
      streams: new Map(),
      screenId: null,
      allowance: { tokens: PEER_MESSAGE_BURST, at: this.#now() },
      security: null,
      browser: null,
      peer: new Peer(pc, {
        polite,
        initiator,
        tracks: this.#options.localTracks(),
        // Everyone already here, and this one; a camera starts small (see WARMUP_MS).
        startEncoding: (kind) =>
          kind === "screen"
            ? videoEncodingFor(this.#entries.size + 1, "screen")
            : warmupEncoding(videoEncodingFor(this.#entries.size + 1, "camera")),
        signal: (message) => this.#options.send(relayFrame(peerId, message)),
        onStream: (stream) => {
          entry.streams.set(stream.id, stream);
          this.#showStreams(peerId, entry);
        },
        onMessage: (data) => this.#onPeerMessage(peerId, entry, data),
        onChannelOpen: () => {
          entry.peer.send(this.#stateMessage());
          if (security !== undefined) {
            entry.peer.send(encodePeerMessage({ type: "browser", id: security.browserId }));
          }
        },
        onConnectionState: (state) => {
          const before = store.participants.value.get(peerId)?.connection;
          store.patchParticipant(peerId, { connection: state });
          // Every time it comes (back) up, possibly on new certificates: a new round.
          if (state === "connected" && before !== "connected") entry.security?.connected();
          listener?.connectionChanged(peerId, state);
        },
        // A renegotiation may carry someone else's certificate: the code is checked again.
        onNegotiated: () => entry.security?.negotiated(),
        onError: (error) => (this.#options.onError ?? defaultOnError)(peerId, error),
        timers: this.#options.timers,
      }),
    };
    if (security !== undefined) {
      entry.security = new PeerSecurity({
        initiator,
        send: (data) => entry.peer.send(data),
        fingerprints: () => entry.peer.fingerprints(),
        pins: security.pins,
        timeoutMs: security.timeoutMs,
        timers: this.#options.timers,
        onChange: () => this.#showSecurity(peerId, entry),
      });
    }
    this.#entries.set(peerId, entry);
    listener?.peerAdded(peerId);
  }

  /** Writes `peerId`'s code and whether we verified it into the store. */
  #showSecurity(peerId: string, entry: Entry) {
    const { security } = this.#options;
    if (security === undefined || entry.security === null) return;
    this.#options.store.patchParticipant(peerId, {
      security: securityView(entry.security.state, entry.browser, security.verified),
    });
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

  #onPeerMessage(peerId: string, entry: Entry, data: string) {
    // A flooding peer must not bury the chat or freeze this tab.
    if (!spend(entry.allowance, this.#now())) return;
    if (entry.security?.receive(data)) return;
    const message = parsePeerMessage(data);
    const { store } = this.#options;
    const participant = store.participants.value.get(peerId);
    if (message === undefined || participant === undefined) return;
    if (message.type === "browser") {
      // Once per connection: a later id (someone in the middle trying another
      // person's verification, or dodging its warning) is not believed.
      if (entry.browser !== null) return;
      entry.browser = message.id;
      this.#showSecurity(peerId, entry);
      return;
    }
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

/** What the UI shows of a connection's code: its state, and whether we verified it. */
function securityView(
  code: CodeState,
  browser: string | null,
  verified: VerifiedStore,
): SecurityView {
  const digits = code.state === "code" ? code.code : null;
  // A verified person whose exchange failed shows the warning: a relay that
  // drops the exchange must not make the warning disappear.
  const status = browser === null || code.state === "pending"
    ? "unverified"
    : verified.status(browser, digits);
  return {
    state: code.state,
    code: digits,
    verified: status,
    canVerify: browser !== null,
    details: code.state === "code" ? code.details : null,
  };
}

/** The server frame that carries `message` to `peerId`: only the fields the protocol knows. */
function relayFrame(peerId: string, message: PeerSignal): ClientMessage {
  if ("description" in message) {
    const { type, sdp = "" } = message.description;
    return {
      event: "relaySessionDescription",
      data: { peer_id: peerId, session_description: { type, sdp } },
    };
  }
  const { candidate = "", sdpMid, sdpMLineIndex, usernameFragment } = message.candidate;
  return {
    event: "relayICECandidate",
    data: {
      peer_id: peerId,
      ice_candidate: { candidate, sdpMid, sdpMLineIndex, usernameFragment },
    },
  };
}

/** Takes one message's token from a peer's bucket, refilled for the time since; false if empty. */
function spend(allowance: Entry["allowance"], now: number): boolean {
  allowance.tokens = Math.min(
    PEER_MESSAGE_BURST,
    allowance.tokens + (now - allowance.at) * PEER_MESSAGES_PER_SECOND / 1000,
  );
  allowance.at = now;
  if (allowance.tokens < 1) return false;
  allowance.tokens -= 1;
  return true;
}

function defaultOnError(peerId: string, error: unknown) {
  console.warn(`peer ${peerId}:`, error);
}
