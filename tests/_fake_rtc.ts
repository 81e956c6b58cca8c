/**
 * A fake RTCPeerConnection faithful to the parts perfect negotiation relies
 * on: the signaling state machine, implicit offer/answer in
 * setLocalDescription(), implicit rollback when an offer meets a local
 * offer, addIceCandidate refusing before a remote description,
 * negotiationneeded fired asynchronously in "stable", and tracks carried in
 * the "SDP" (JSON here) to the other side. Also the shared media
 * fixtures: fake tracks grouped in a stream, as `LocalTrack`s.
 */

import type { LocalTrack } from "../client/peer.ts";

let nextId = 0;

/** Fake work scheduled and not yet run (see {@linkcode quiet}). */
let inFlight = 0;

/**
 * Runs `fn` in a later task, counted: the fakes, and the in-memory routers
 * tests build on them, schedule everything through this.
 */
export function later(fn: () => void): void {
  inFlight++;
  setTimeout(() => {
    inFlight--;
    fn();
  }, 0);
}

/**
 * Whether no fake work is pending: nothing negotiating, no candidate or
 * message on its way. With `until(quiet, …)` a test can assert that
 * something did *not* happen once everything that could have has run.
 */
export function quiet(): boolean {
  return inFlight === 0;
}

/** A MediaStreamTrack stand-in. */
export class FakeTrack {
  readonly id = `track-${++nextId}`;
  enabled = true;
  readyState: "live" | "ended" = "live";
  contentHint = "";
  onunmute: (() => void) | null = null;
  onended: (() => void) | null = null;
  constructor(readonly kind: "audio" | "video") {}
  stop() {
    this.readyState = "ended";
  }
  /** The device or the browser ended it (unplugged, "Stop sharing" bar). */
  end() {
    this.readyState = "ended";
    this.onended?.();
  }
}

/** A MediaStream stand-in. */
export class FakeStream {
  readonly id: string;
  #tracks: FakeTrack[];
  constructor(tracks: FakeTrack[] = [], id = `stream-${++nextId}`) {
    this.#tracks = [...tracks];
    this.id = id;
  }
  getTracks() {
    return [...this.#tracks];
  }
  getAudioTracks() {
    return this.#tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.#tracks.filter((t) => t.kind === "video");
  }
  addTrack(track: FakeTrack) {
    if (!this.#tracks.includes(track)) this.#tracks.push(track);
  }
  removeTrack(track: FakeTrack) {
    this.#tracks = this.#tracks.filter((t) => t !== track);
  }
}

/** An RTCRtpSender stand-in that records replaceTrack calls. */
export class FakeSender {
  replaced = 0;
  parameters: { encodings: Record<string, unknown>[] } = { encodings: [{}] };
  setParametersCalls = 0;
  constructor(
    public track: FakeTrack | null,
    readonly kind: string,
    readonly streamId: string,
  ) {}
  replaceTrack(track: FakeTrack | null) {
    this.track = track;
    this.replaced++;
    return Promise.resolve();
  }
  getParameters() {
    return structuredClone(this.parameters);
  }
  setParameters(parameters: { encodings: Record<string, unknown>[] }) {
    this.parameters = structuredClone(parameters);
    this.setParametersCalls++;
    return Promise.resolve();
  }
}

/** An RTCDataChannel stand-in wired to its twin on the other side. */
export class FakeDataChannel {
  readyState: RTCDataChannelState = "connecting";
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  twin: FakeDataChannel | null = null;
  sent: string[] = [];
  constructor(readonly label: string) {}
  send(data: string) {
    if (this.readyState !== "open") {
      throw new Error("InvalidStateError: not open");
    }
    this.sent.push(data);
    const twin = this.twin;
    later(() => twin?.onmessage?.({ data }));
  }
  open() {
    this.readyState = "open";
    this.onopen?.();
  }
  close() {
    this.readyState = "closed";
  }
}

interface FakeSdp {
  /** The sending connection's label, like the o= line's session id. */
  origin: string;
  tracks: { id: string; kind: string; stream: string }[];
  data: boolean;
  version: number;
}

/** Every connection by label, so descriptions can name their sender. */
const CONNECTIONS = new Map<string, FakePeerConnection>();

function description(type: RTCSdpType, sdp: FakeSdp) {
  const init = { type, sdp: JSON.stringify(sdp) };
  return { ...init, toJSON: () => init };
}

/** A certificate for `RTCConfiguration.certificates` whose fingerprint the fake's descriptions carry. */
export function fakeCertificate(fingerprint: string): RTCCertificate {
  return { expires: Infinity, fingerprint } as unknown as RTCCertificate;
}

/** The `a=fingerprint` line of `pc`'s fake certificate, or `null` without one. */
function fingerprintSdp(
  pc: FakePeerConnection | undefined,
): { type: RTCSdpType; sdp: string } | null {
  const certificate = pc?.config.certificates?.[0] as { fingerprint?: string } | undefined;
  if (certificate?.fingerprint === undefined) return null;
  return { type: "offer", sdp: `v=0\r\na=fingerprint:${certificate.fingerprint}\r\n` };
}

/** The RTCPeerConnection stand-in. */
export class FakePeerConnection {
  readonly label: string;
  signalingState: RTCSignalingState = "stable";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: ReturnType<typeof description> | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((event: { candidate: unknown }) => void) | null = null;
  onicecandidateerror: ((event: unknown) => void) | null = null;
  ontrack:
    | ((event: { track: FakeTrack; streams: FakeStream[] }) => void)
    | null = null;
  onconnectionstatechange: (() => void) | null = null;
  onsignalingstatechange: (() => void) | null = null;
  ondatachannel: ((event: { channel: FakeDataChannel }) => void) | null = null;
  senders: FakeSender[] = [];
  channels: FakeDataChannel[] = [];
  candidates: RTCIceCandidateInit[] = [];
  rollbacks = 0;
  offersMade = 0;
  iceRestarts = 0;
  /** What getStats() reports; tests fill it. */
  stats: Record<string, unknown>[] = [];
  /** Remote track ids already announced through ontrack. */
  #seenRemote = new Set<string>();
  #remoteStreams = new Map<string, FakeStream>();
  #needed = false;
  #scheduled = false;
  #version = 0;
  #remoteHasData = false;

  constructor(public config: RTCConfiguration, label = `pc-${++nextId}`) {
    this.label = label;
    CONNECTIONS.set(label, this);
  }

  addTrack(track: FakeTrack, stream: FakeStream) {
    const sender = new FakeSender(track, track.kind, stream.id);
    this.senders.push(sender);
    // Inside an offer/answer exchange the answer carries the new track.
    if (this.signalingState !== "have-remote-offer") this.#markNeeded();
    return sender;
  }

  /** A transceiver of its own, as the browser's; its sender starts with `sendEncodings`. */
  addTransceiver(
    track: FakeTrack,
    init: { streams: FakeStream[]; sendEncodings?: Record<string, unknown>[] },
  ) {
    const sender = this.addTrack(track, init.streams[0]);
    if (init.sendEncodings !== undefined) {
      sender.parameters = { encodings: structuredClone(init.sendEncodings) };
    }
    return { sender };
  }

  removeTrack(sender: FakeSender) {
    this.senders = this.senders.filter((s) => s !== sender);
    this.#markNeeded();
  }

  /** The local description as far as its certificate goes (with a {@linkcode fakeCertificate}). */
  get currentLocalDescription() {
    return this.localDescription === null ? null : fingerprintSdp(this);
  }

  /** The remote description as far as the other side's certificate goes. */
  get currentRemoteDescription() {
    if (this.remoteDescription === null) return null;
    const origin = (JSON.parse(this.remoteDescription.sdp) as FakeSdp).origin;
    return fingerprintSdp(CONNECTIONS.get(origin));
  }

  getConfiguration(): RTCConfiguration {
    return this.config;
  }

  /** Renewed ICE servers replace the old ones, as the browser's would. */
  setConfiguration(config: RTCConfiguration) {
    this.config = config;
  }

  restartIce() {
    this.iceRestarts++;
    this.#markNeeded();
  }

  /** How many times getStats() was called. */
  statsCalls = 0;

  getStats() {
    this.statsCalls++;
    return Promise.resolve(
      new Map(this.stats.map((entry) => [entry.id, entry])),
    );
  }

  createDataChannel(label: string) {
    const channel = new FakeDataChannel(label);
    this.channels.push(channel);
    this.#markNeeded();
    return channel;
  }

  setLocalDescription(init?: { type: RTCSdpType; sdp?: string }) {
    return this.#later(() => {
      this.#checkOpen();
      if (init?.type === "rollback") return this.#rollback();
      if (this.signalingState === "have-remote-offer") {
        this.localDescription = description("answer", this.#sdp());
        this.signalingState = "stable";
        later(() => this.onsignalingstatechange?.());
        this.#afterStable();
      } else if (
        this.signalingState === "stable" ||
        this.signalingState === "have-local-offer"
      ) {
        this.localDescription = description("offer", this.#sdp());
        this.signalingState = "have-local-offer";
        this.offersMade++;
        this.#needed = false;
      } else {
        throw new DOMException(
          `bad state ${this.signalingState}`,
          "InvalidStateError",
        );
      }
      later(() => this.onicecandidate?.({ candidate: this.#candidate() }));
    });
  }

  setRemoteDescription(init: { type: RTCSdpType; sdp?: string }) {
    return this.#later(() => {
      this.#checkOpen();
      if (init.type === "offer") {
        if (this.signalingState === "have-local-offer") this.#rollback(); // implicit rollback
        if (this.signalingState !== "stable") {
          throw new DOMException(
            `offer in ${this.signalingState}`,
            "InvalidStateError",
          );
        }
        this.signalingState = "have-remote-offer";
      } else if (init.type === "answer") {
        if (this.signalingState !== "have-local-offer") {
          throw new DOMException(
            `answer in ${this.signalingState}`,
            "InvalidStateError",
          );
        }
        this.signalingState = "stable";
        later(() => this.onsignalingstatechange?.());
      } else {
        throw new DOMException(`unsupported ${init.type}`, "InvalidStateError");
      }
      this.remoteDescription = { type: init.type, sdp: init.sdp ?? "" };
      const sdp = JSON.parse(init.sdp ?? "{}") as FakeSdp;
      this.#announceTracks(sdp);
      if (sdp.data) this.#remoteHasData = true;
      this.#remote = CONNECTIONS.get(sdp.origin) ?? null;
      if (this.signalingState === "stable") this.#afterStable();
    });
  }

  addIceCandidate(candidate: RTCIceCandidateInit) {
    return this.#later(() => {
      if (this.remoteDescription === null) {
        throw new DOMException("no remote description", "InvalidStateError");
      }
      this.candidates.push(candidate);
    });
  }

  close() {
    this.signalingState = "closed";
    this.connectionState = "closed";
  }

  /** Sets connectionState and fires the event, as the ICE agent would. */
  setConnectionState(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }

  #later(fn: () => void): Promise<void> {
    return new Promise((resolve, reject) =>
      later(() => {
        try {
          fn();
          resolve();
        } catch (error) {
          reject(error);
        }
      })
    );
  }

  #checkOpen() {
    if (this.signalingState === "closed") {
      throw new DOMException("closed", "InvalidStateError");
    }
  }

  #rollback() {
    this.rollbacks++;
    this.signalingState = "stable";
    this.localDescription = null;
    this.#needed = true; // what we wanted to offer still needs offering
  }

  #sdp(): FakeSdp {
    return {
      tracks: this.senders.filter((s) => s.track !== null).map((s) => ({
        id: s.track!.id,
        kind: s.kind,
        stream: s.streamId,
      })),
      data: this.channels.length > 0 || this.#remoteHasData,
      version: ++this.#version,
      origin: this.label,
    };
  }

  #candidate() {
    const init = {
      candidate: `candidate:${nextId++} 1 udp 1 127.0.0.1 9 typ host`,
      sdpMid: "0",
      sdpMLineIndex: 0,
    };
    return { ...init, toJSON: () => init };
  }

  #announceTracks(sdp: FakeSdp) {
    for (const t of sdp.tracks ?? []) {
      if (this.#seenRemote.has(t.id)) continue;
      this.#seenRemote.add(t.id);
      let stream = this.#remoteStreams.get(t.stream);
      if (stream === undefined) {
        stream = new FakeStream([], t.stream);
        this.#remoteStreams.set(t.stream, stream);
      }
      const track = new FakeTrack(t.kind as "audio" | "video");
      stream.addTrack(track);
      this.ontrack?.({ track, streams: [stream] });
    }
  }

  #afterStable() {
    if (this.localDescription !== null && this.remoteDescription !== null) {
      this.#wireDataChannel();
      if (this.connectionState === "new") this.setConnectionState("connected");
    }
    if (this.#needed) this.#schedule();
  }

  /** Links our data channel to the remote end's, like SCTP would. */
  #wireDataChannel() {
    if (!this.#remoteHasData) return;
    const remote = this.#remote;
    if (remote === null) return;
    const mine = this.channels[0];
    const theirs = remote.channels[0];
    if (mine !== undefined && theirs === undefined) {
      const answerSide = new FakeDataChannel(mine.label);
      remote.channels.push(answerSide);
      mine.twin = answerSide;
      answerSide.twin = mine;
      remote.ondatachannel?.({ channel: answerSide });
      later(() => {
        mine.open();
        answerSide.open();
      });
    }
  }

  #markNeeded() {
    this.#needed = true;
    if (this.signalingState === "stable") this.#schedule();
  }

  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    later(() => {
      this.#scheduled = false;
      if (this.#needed && this.signalingState === "stable") {
        this.#needed = false;
        this.onnegotiationneeded?.();
      }
    });
  }

  /** The other end, found from the origin of its description. */
  #remote: FakePeerConnection | null = null;
}

/**
 * Local tracks of `kinds` in one stream (a new one unless given), as a
 * camera and microphone would be sent.
 */
export function fakeMedia(
  kinds: ("audio" | "video")[] = ["audio", "video"],
  stream: FakeStream = new FakeStream(),
): LocalTrack[] {
  return kinds.map((kind) => {
    const track = new FakeTrack(kind);
    stream.addTrack(track);
    return {
      kind,
      track: track as unknown as MediaStreamTrack,
      stream: stream as unknown as MediaStream,
    };
  });
}

/** A host candidate line as a browser would trickle it. */
export function hostCandidate(n: number): RTCIceCandidateInit {
  return {
    candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${n} typ host`,
    sdpMid: "0",
    sdpMLineIndex: 0,
  };
}
