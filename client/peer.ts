/**
 * One RTCPeerConnection to one remote participant, negotiated with the
 * "perfect negotiation" pattern (W3C/MDN): either side may renegotiate at
 * any time; on glare the impolite side ignores the other's offer and the
 * polite side rolls back its own. The connection and the way to reach the
 * other side are injected, so the algorithm runs in tests against a fake.
 *
 * @module
 */

import type { Timers } from "./_timers.ts";
import type { IceFacts } from "./diagnosis.ts";
import { IceHealth } from "./ice_health.ts";
import { CHAT_CHANNEL, PeerChannel } from "./peer_channel.ts";
import { localAudioLevel, type StatsEntry } from "./quality.ts";
import type { Fingerprints } from "./peer_security.ts";
import { fingerprintsOf } from "./security_code.ts";

/** What a peer sends the other side through the signaling server. */
export type PeerSignal =
  | { description: RTCSessionDescriptionInit }
  | { candidate: RTCIceCandidateInit };

/** What a peer sends: microphone, camera, and optionally a screen. */
export type MediaKind = "audio" | "video" | "screen";

/** A local track and the stream that groups it with its siblings. */
export interface LocalTrack {
  kind: MediaKind;
  track: MediaStreamTrack;
  stream: MediaStream;
}

/** Collaborators and callbacks of a {@linkcode Peer}; callbacks never throw. */
export interface PeerOptions {
  /** Server-assigned role: the polite side yields on glare. */
  polite: boolean;
  /** `should_create_offer`: this side opens the data channel (first offer). */
  initiator: boolean;
  /** The tracks to send from the start. */
  tracks: LocalTrack[];
  /**
   * The encoding a video track starts with (bitrate, resolution, frame
   * rate for the room's size). The offering side sets it as it adds its
   * first tracks, so no `setParameters` stands between `addPeer` and the
   * offer, and the encoder never starts over once media flows.
   */
  startEncoding?(kind: "video" | "screen"): RTCRtpEncodingParameters;
  /** Delivers a description or candidate to the other side. */
  signal(message: PeerSignal): void;
  /** The remote stream, each time it gains a track. */
  onStream?(stream: MediaStream): void;
  /** A data channel message. */
  onMessage?(data: string): void;
  /** The data channel opened: a good time to say hello. */
  onChannelOpen?(): void;
  /** `connectionState` changed. */
  onConnectionState?(state: RTCPeerConnectionState): void;
  /** A negotiation ended (signaling back to `stable`): the fingerprints in use may have changed. */
  onNegotiated?(): void;
  /** Something failed that the user or the logs should know about. */
  onError?(error: unknown): void;
  /**
   * How long a `disconnected` connection may stay so before an ICE restart,
   * in ms. Default 4000. A `failed` one restarts at once.
   */
  disconnectedRestartMs?: number;
  /** Timers for that wait. Default: the runtime's. */
  timers?: Timers;
}

/**
 * Candidates held before the first remote description. A real peer sends
 * a few dozen; past this a peer that never offers is only filling memory.
 */
export const MAX_EARLY_CANDIDATES = 200;

/** A remote participant's connection. */
export class Peer {
  #pc: RTCPeerConnection;
  #options: PeerOptions;
  #makingOffer = false;
  #ignoreOffer = false;
  #answerPending = false;
  /** Incoming signals are applied one at a time, in arrival order. */
  #inbox: Promise<void> = Promise.resolve();
  /** Candidates that arrived before any remote description. */
  #earlyCandidates: RTCIceCandidateInit[] = [];
  #senders = new Map<MediaKind, RTCRtpSender>();
  /** Tracks the polite side holds back until the first offer arrives. */
  #pendingTracks: LocalTrack[] | null;
  #channel: PeerChannel;
  #ice: IceHealth;
  #closed = false;

  constructor(pc: RTCPeerConnection, options: PeerOptions) {
    this.#pc = pc;
    this.#options = options;
    this.#channel = new PeerChannel({
      onOpen: () => guard(() => options.onChannelOpen?.()),
      onMessage: (data) => guard(() => options.onMessage?.(data)),
    });
    const { disconnectedRestartMs, timers } = options;
    this.#ice = new IceHealth(pc, { disconnectedRestartMs, timers });
    // Not while an offer is being made: whatever came after it is negotiated
    // again once the exchange is back to stable (the browser fires again).
    pc.onnegotiationneeded = () => {
      if (!this.#makingOffer) void this.#negotiate();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      this.#ice.gathered(candidate.candidate);
      this.#emit({ candidate: candidate.toJSON() });
    };
    pc.onicecandidateerror = (event) =>
      this.#ice.serverError(event as RTCPeerConnectionIceErrorEvent);
    pc.ontrack = ({ track, streams }) => {
      const stream = streams[0];
      if (stream === undefined) return;
      guard(() => options.onStream?.(stream));
      track.onunmute = () => guard(() => options.onStream?.(stream));
    };
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === "stable") guard(() => options.onNegotiated?.());
    };
    pc.onconnectionstatechange = () => {
      this.#ice.changed(pc.connectionState);
      guard(() => options.onConnectionState?.(pc.connectionState));
    };
    pc.ondatachannel = ({ channel }) => {
      if (channel.label === CHAT_CHANNEL) this.#channel.adopt(channel);
    };
    if (options.initiator) {
      // The side told to offer opens the data channel; that alone triggers
      // negotiationneeded, so a call starts even when neither side has media.
      this.#pendingTracks = null;
      this.#channel.adopt(pc.createDataChannel(CHAT_CHANNEL));
      for (const local of options.tracks) this.#addFirstTrack(local);
      // The first offer now, not when negotiationneeded comes round: that
      // task waits behind whatever the page renders for the newcomer, and
      // once this offer is set nothing is left to negotiate.
      void this.#negotiate();
    } else {
      // The answering side adds its tracks while answering the first offer,
      // reusing the offered transceivers — no glare, no second round trip.
      this.#pendingTracks = [...options.tracks];
    }
  }

  /** New ICE servers or policy (renewed TURN credentials): used from the next gathering on. */
  setConfiguration(config: RTCConfiguration): void {
    if (this.#closed) return;
    try {
      this.#pc.setConfiguration({ ...this.#pc.getConfiguration(), ...config });
    } catch (error) {
      guard(() => this.#options.onError?.(error));
    }
  }

  /** `RTCPeerConnection.connectionState`, for deciding whether to restart ICE. */
  get connectionState(): RTCPeerConnectionState {
    return this.#pc.connectionState;
  }

  /** Whether the chat channel can carry messages now. */
  get channelOpen(): boolean {
    return this.#channel.open;
  }

  /**
   * The certificate fingerprints of the descriptions in use (the last
   * negotiated ones; the one being made while none was), for the security code.
   */
  fingerprints(): Fingerprints {
    const pc = this.#pc;
    const local = (pc.currentLocalDescription ?? pc.localDescription)?.sdp;
    const remote = (pc.currentRemoteDescription ?? pc.remoteDescription)?.sdp;
    return {
      local: local === undefined ? null : fingerprintsOf(local),
      remote: remote === undefined ? null : fingerprintsOf(remote),
    };
  }

  /** Applies a description or candidate from the other side, in order. */
  receive(message: PeerSignal): Promise<void> {
    this.#inbox = this.#inbox.then(() => this.#apply(message)).catch((error) =>
      guard(() => this.#options.onError?.(error))
    );
    return this.#inbox;
  }

  /**
   * Sends `track` (or nothing, with `null`) as this peer's `kind`. Reuses
   * the existing sender with `replaceTrack` — no renegotiation — and adds
   * a new one (renegotiating) only when there was none.
   */
  async setTrack(kind: MediaKind, local: LocalTrack | null): Promise<void> {
    if (this.#closed) return;
    if (this.#pendingTracks !== null) {
      this.#pendingTracks = this.#pendingTracks.filter((t) => t.kind !== kind);
      if (local !== null) this.#pendingTracks.push(local);
      return;
    }
    const sender = this.#senders.get(kind);
    if (sender !== undefined && local === null && kind === "screen") {
      // A share ends for good: remove it so the other side drops the tile.
      this.#senders.delete(kind);
      this.#pc.removeTrack(sender);
    } else if (sender !== undefined) {
      await sender.replaceTrack(local?.track ?? null);
    } else if (local !== null) {
      this.#addTrack(local);
    }
  }

  /** What ICE saw so far, for {@linkcode diagnose}-ing a failure. */
  iceFacts(iceServers: readonly RTCIceServer[], failed: boolean): IceFacts {
    return this.#ice.facts(iceServers, failed);
  }

  /** The connection's stats as plain entries. */
  async stats(): Promise<StatsEntry[]> {
    if (this.#closed) return [];
    const report = await this.#pc.getStats();
    return [...report.values()] as StatsEntry[];
  }

  /**
   * Their voice level now (0–1), from the audio receiver's synchronization
   * sources: no stats report, no promise. `null` where the browser has
   * none to give (then the last stats sample's level stands).
   */
  remoteAudioLevel(): number | null {
    if (this.#closed) return null;
    let level: number | null = null;
    for (const receiver of this.#pc.getReceivers?.() ?? []) {
      if (receiver.track?.kind !== "audio") continue;
      for (const source of receiver.getSynchronizationSources?.() ?? []) {
        if (typeof source.audioLevel === "number") level = Math.max(level ?? 0, source.audioLevel);
      }
    }
    return level;
  }

  /**
   * Our microphone's level as this connection sends it, from the audio
   * sender's own stats (a small report, not the connection's).
   */
  async localAudioLevel(): Promise<number | null> {
    const sender = this.#senders.get("audio");
    if (this.#closed || sender === undefined || sender.getStats === undefined) return null;
    const report = await sender.getStats();
    return localAudioLevel(report.values() as Iterable<StatsEntry>);
  }

  /** Video senders and what they carry, for quality adaptation. */
  videoSenders(): { source: "camera" | "screen"; sender: RTCRtpSender }[] {
    const out: { source: "camera" | "screen"; sender: RTCRtpSender }[] = [];
    const camera = this.#senders.get("video");
    const screen = this.#senders.get("screen");
    if (camera !== undefined) out.push({ source: "camera", sender: camera });
    if (screen !== undefined) out.push({ source: "screen", sender: screen });
    return out;
  }

  /** Restarts ICE: new candidates, same connection and tracks — no new tile. */
  restartIce(): void {
    if (!this.#closed) this.#ice.restart();
  }

  /**
   * The other side is back and what we sent may have been lost (its server
   * died): ICE restarts, and an offer still waiting for an answer goes again.
   */
  renegotiate(): void {
    if (this.#closed) return;
    this.#ice.restart(); // stable: its negotiationneeded makes the offer
    if (this.#pc.signalingState === "have-local-offer") void this.#negotiate();
  }

  /** Sends a data channel message; returns false if the channel is not open. */
  send(data: string): boolean {
    return !this.#closed && this.#channel.send(data);
  }

  /** Closes the connection for good. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ice.stop();
    this.#channel.close();
    this.#pc.onnegotiationneeded = null;
    this.#pc.onicecandidate = null;
    this.#pc.onicecandidateerror = null;
    this.#pc.ontrack = null;
    this.#pc.onconnectionstatechange = null;
    this.#pc.ondatachannel = null;
    this.#pc.close();
  }

  async #negotiate(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#makingOffer = true;
      await this.#pc.setLocalDescription();
      this.#emitDescription();
    } catch (error) {
      guard(() => this.#options.onError?.(error));
    } finally {
      this.#makingOffer = false;
    }
  }

  async #apply(message: PeerSignal): Promise<void> {
    if (this.#closed) return;
    const pc = this.#pc;
    if ("description" in message) {
      const { description } = message;
      // An answer being applied will leave us stable before this offer is
      // applied, so that state counts as ready for an offer.
      const readyForOffer = !this.#makingOffer &&
        (pc.signalingState === "stable" || this.#answerPending);
      const offerCollision = description.type === "offer" && !readyForOffer;
      this.#ignoreOffer = !this.#options.polite && offerCollision;
      if (this.#ignoreOffer) return;
      this.#answerPending = description.type === "answer";
      await pc.setRemoteDescription(description); // rolls back on glare
      this.#answerPending = false;
      await this.#flushEarlyCandidates();
      if (description.type === "offer") {
        this.#releasePendingTracks();
        await pc.setLocalDescription();
        this.#emitDescription();
      }
      return;
    }
    this.#ice.received(message.candidate.candidate ?? "");
    if (pc.remoteDescription === null) {
      if (this.#earlyCandidates.length < MAX_EARLY_CANDIDATES) {
        this.#earlyCandidates.push(message.candidate);
      }
      return;
    }
    await this.#addCandidate(message.candidate);
  }

  async #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates for an offer we ignored are expected to fail.
      if (!this.#ignoreOffer) throw error;
    }
  }

  async #flushEarlyCandidates(): Promise<void> {
    const early = this.#earlyCandidates.splice(0);
    for (const candidate of early) await this.#addCandidate(candidate);
  }

  #releasePendingTracks() {
    const pending = this.#pendingTracks;
    if (pending === null) return;
    this.#pendingTracks = null;
    for (const local of pending) this.#addTrack(local);
  }

  #addTrack(local: LocalTrack) {
    this.#senders.set(local.kind, this.#pc.addTrack(local.track, local.stream));
  }

  /** An offering side's first track: a transceiver of its own, video with its start encoding. */
  #addFirstTrack(local: LocalTrack) {
    const encoding = local.kind === "audio" ? undefined : this.#options.startEncoding?.(local.kind);
    if (encoding === undefined) return this.#addTrack(local);
    const { sender } = this.#pc.addTransceiver(local.track, {
      direction: "sendrecv",
      streams: [local.stream],
      sendEncodings: [encoding],
    });
    this.#senders.set(local.kind, sender);
  }

  #emitDescription() {
    const description = this.#pc.localDescription;
    if (description !== null) this.#emit({ description: description.toJSON() });
  }

  #emit(message: PeerSignal) {
    if (!this.#closed) guard(() => this.#options.signal(message));
  }
}

function guard(fn: () => void) {
  try {
    fn();
  } catch (error) {
    // A callback's bug must not break negotiation for this peer.
    console.error(error);
  }
}
