/**
 * The call controller: the actions behind the UI's buttons. It owns the
 * local media, the signaling connection and the mesh, and turns their
 * failures into plain words in the store. Browser APIs come in through
 * {@linkcode CallDeps} so the flow is testable with fakes.
 *
 * @module
 */

import type { ErrorCode, ServerMessage } from "../lib/protocol.ts";
import { Mesh } from "./mesh.ts";
import type { LocalTrack } from "./peer.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { type GiveUpReason, SignalingClient } from "./signaling.ts";
import type { SocketLike } from "./signaling.ts";
import { type CallStore, cleanName, type DeviceChoice, type DeviceLists } from "./store.ts";

/** The browser APIs the controller needs. */
export interface CallDeps {
  /** `navigator.mediaDevices.getUserMedia`. */
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  /** `navigator.mediaDevices.getDisplayMedia`; absent where unsupported (phones). */
  getDisplayMedia?(
    constraints: DisplayMediaStreamOptions,
  ): Promise<MediaStream>;
  /** `navigator.mediaDevices.enumerateDevices`. */
  enumerateDevices?(): Promise<MediaDeviceInfo[]>;
  /** Timers for reconnecting and resume waits. Default {@linkcode GLOBAL_TIMERS}. */
  timers?: Timers;
  /** Randomness for backoff jitter. Default `Math.random`. */
  random?: () => number;
  /** Default `navigator.onLine`. */
  isOnline?: () => boolean;
  /** Milliseconds between stats samples in a call; 0 turns sampling off. Default 0. */
  statsIntervalMs?: number;
  /** Default `new WebSocket(url)`. */
  createSocket?: (url: string) => SocketLike;
  /** Default `new RTCPeerConnection(config)`. */
  createConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** The `/ws` URL. */
  signalingUrl: string;
  /** Remembers the display name across visits. */
  saveName?(name: string): void;
  /** Whether the chat panel is on screen. */
  chatVisible?(): boolean;
}

const KIND_LABEL: Record<string, string> = {
  audioinput: "Microphone",
  videoinput: "Camera",
  audiooutput: "Speaker",
};

const VIDEO_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
};

/** Why the signaling connection gave up, in words. */
const GIVE_UP_TEXT: Record<GiveUpReason, string> = {
  unreachable: "Cannot reach the server. Check your connection and try again.",
  replaced: "This call continued in another tab or window.",
  refused: "The server closed the connection. Try joining again.",
};

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
};

/** Plain words for a server `error` frame. */
export function describeServerError(code: ErrorCode): string {
  return ERROR_TEXT[code];
}

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

/** The actions of one call. */
export class CallController {
  readonly store: CallStore;
  #deps: CallDeps;
  #signaling: SignalingClient | null = null;
  #mesh: Mesh | null = null;
  /**
   * The stream every sender is tied to, kept for the whole visit so remote
   * sides see one stream (one tile) however tracks come and go. The store
   * holds display copies of it.
   */
  #stream: MediaStream | null = null;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #reintroductionTimer: unknown;
  #resumeWindowMs = 25_000;
  /** A media request in flight, so a second click does not open a second camera. */
  #mediaRequest: Promise<void> | null = null;

  constructor(store: CallStore, deps: CallDeps) {
    this.store = store;
    this.#deps = deps;
  }

  /** The mesh of the current call (for tests and stats). */
  get mesh(): Mesh | null {
    return this.#mesh;
  }

  /** Starts camera and microphone for the preview; failures become words. */
  startPreview(): Promise<void> {
    this.#mediaRequest ??= this.#startPreview().finally(() => {
      this.#mediaRequest = null;
    });
    return this.#mediaRequest;
  }

  async #startPreview(): Promise<void> {
    const { store } = this;
    if (this.#stream !== null) return;
    store.mediaError.value = null;
    const wanted = { audio: store.micOn.value, video: store.camOn.value };
    if (!wanted.audio && !wanted.video) return;
    try {
      const stream = await this.#deps.getUserMedia({
        audio: wanted.audio ? this.#constraints("audio") : false,
        video: wanted.video ? this.#constraints("video") : false,
      });
      this.#stream = stream;
      this.#publish();
      store.micOn.value = stream.getAudioTracks().length > 0;
      store.camOn.value = stream.getVideoTracks().length > 0;
      // Join was pressed before the camera started: the peers met so far
      // got no tracks, so send them now (and say the camera is on).
      if (this.#mesh !== null) {
        for (const track of stream.getTracks()) {
          const kind = track.kind === "audio" ? "audio" : "video";
          await this.#mesh.setTrack(kind, { kind, track, stream });
        }
        this.#mesh.announceState();
      }
    } catch (error) {
      store.mediaError.value = describeMediaError(error);
      store.micOn.value = false;
      store.camOn.value = false;
    }
    await this.refreshDevices();
  }

  /** Stops every local track (the camera light goes off). */
  stopMedia(): void {
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = null;
    this.#publish();
  }

  /** Connects to the server and joins the room as `name`. */
  join(name: string): void {
    const { store } = this;
    const room = store.room.value;
    if (
      room === null || store.phase.value === "joining" ||
      store.phase.value === "in-call"
    ) return;
    const displayName = cleanName(name);
    store.name.value = displayName;
    this.#deps.saveName?.(displayName);
    store.error.value = null;
    store.setPhase("joining");
    store.linkStatus.value = "connecting";
    const signaling = new SignalingClient({
      url: this.#deps.signalingUrl,
      createSocket: this.#deps.createSocket,
      onMessage: (message) => this.#onServerMessage(message),
      onStatus: (status) => {
        store.linkStatus.value = status;
      },
      onGiveUp: (reason) => this.#onGiveUp(reason),
      channels: () => [{ channel: room, userdata: { name: store.name.value } }],
      timers: this.#deps.timers,
      isOnline: this.#deps.isOnline,
      random: this.#deps.random,
    });
    this.#signaling = signaling;
    this.#mesh = new Mesh({
      store,
      send: (message) => signaling.send(message),
      createConnection: this.#deps.createConnection,
      localTracks: () => this.#localTracks(),
      chatVisible: this.#deps.chatVisible,
    });
    signaling.start();
    const interval = this.#deps.statsIntervalMs ?? 0;
    if (interval > 0) {
      this.#statsTimer = setInterval(() => void this.sampleStats(), interval);
    }
  }

  /** Leaves the call: everyone's tile of us goes away at once. */
  leave(): void {
    const room = this.store.room.value;
    if (room !== null) this.#signaling?.send({ event: "part", data: { channel: room } });
    this.#teardown();
    this.store.setPhase("prejoin");
  }

  /**
   * Mutes or unmutes the microphone. A muted track keeps running (silent)
   * so unmuting is instant; with no microphone yet, one is requested.
   */
  async toggleMic(): Promise<void> {
    // A click while the preview is still starting acts on its result.
    await this.#mediaRequest;
    const { store } = this;
    const track = this.#stream?.getAudioTracks()[0];
    if (track === undefined) return this.#acquire("audio");
    if (store.phase.value === "prejoin" && track.enabled) {
      // Choosing "no microphone" before joining releases the device; the
      // call then starts without audio and adds it (renegotiating) if
      // turned on later.
      track.stop();
      this.#stream!.removeTrack(track);
      store.micOn.value = false;
      this.#publish();
      return;
    }
    track.enabled = !track.enabled;
    store.micOn.value = track.enabled;
    this.#mesh?.announceState();
  }

  /**
   * Turns the camera off — stopping the track so the light goes off — or
   * on again with a fresh track, swapped in with `replaceTrack` (or added,
   * renegotiating, if this call never had video).
   */
  async toggleCamera(): Promise<void> {
    await this.#mediaRequest;
    const { store } = this;
    const stream = this.#stream;
    const current = stream?.getVideoTracks()[0];
    if (stream === null || current === undefined) return this.#acquire("video");
    current.stop();
    stream.removeTrack(current);
    this.#publish();
    store.camOn.value = false;
    await this.#mesh?.setTrack("video", null);
    this.#mesh?.announceState();
  }

  async #acquire(kind: "audio" | "video"): Promise<void> {
    const { store } = this;
    try {
      const fresh = await this.#deps.getUserMedia({
        [kind]: this.#constraints(kind),
      });
      const track = fresh.getTracks()[0];
      const stream = this.#stream ?? fresh;
      if (stream !== fresh) stream.addTrack(track);
      this.#stream = stream;
      this.#publish();
      if (kind === "audio") store.micOn.value = true;
      else store.camOn.value = true;
      store.mediaError.value = null;
      await this.#mesh?.setTrack(kind, { kind, track, stream });
      this.#mesh?.announceState();
    } catch (error) {
      store.mediaError.value = describeMediaError(error);
    }
  }

  /** Raises or lowers our hand; everyone sees it on our tile and in the list. */
  toggleHand(): void {
    this.store.handRaised.value = !this.store.handRaised.value;
    this.#mesh?.announceState();
  }

  /**
   * Starts sharing the screen (the browser asks which one) or stops. The
   * share goes to everyone as an extra track, negotiated by perfect
   * negotiation; the browser's own "Stop sharing" bar ends it too.
   */
  async toggleScreenShare(): Promise<void> {
    const { store } = this;
    if (store.screenStream.value !== null) return this.#stopScreenShare();
    if (this.#deps.getDisplayMedia === undefined) {
      store.notice.value = "This browser cannot share its screen.";
      return;
    }
    let stream: MediaStream;
    try {
      stream = await this.#deps.getDisplayMedia({
        video: { frameRate: { ideal: 15 } },
        audio: false,
      });
    } catch (error) {
      // Cancelling the picker is a choice, not an error worth a message.
      if ((error as { name?: string })?.name !== "NotAllowedError") {
        store.notice.value = "Screen sharing failed to start.";
      }
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (track === undefined) return;
    track.contentHint = "detail";
    track.onended = () => void this.#stopScreenShare();
    store.screenStream.value = stream;
    this.#mesh?.announceState();
    await this.#mesh?.setTrack("screen", { kind: "screen", track, stream });
  }

  async #stopScreenShare(): Promise<void> {
    const { store } = this;
    const stream = store.screenStream.value;
    if (stream === null) return;
    store.screenStream.value = null;
    for (const track of stream.getTracks()) {
      track.onended = null;
      track.stop();
    }
    this.#mesh?.announceState();
    await this.#mesh?.setTrack("screen", null);
  }

  /** Re-reads the device lists (after permission, or on `devicechange`). */
  async refreshDevices(): Promise<void> {
    const { store } = this;
    if (this.#deps.enumerateDevices === undefined) return;
    let infos: MediaDeviceInfo[];
    try {
      infos = await this.#deps.enumerateDevices();
    } catch {
      return;
    }
    const lists: DeviceLists = {
      audioinput: [],
      videoinput: [],
      audiooutput: [],
    };
    for (const info of infos) {
      if (info.deviceId === "" || !(info.kind in lists)) continue;
      const list = lists[info.kind as keyof DeviceLists];
      list.push({
        id: info.deviceId,
        label: info.label || `${KIND_LABEL[info.kind]} ${list.length + 1}`,
      });
    }
    store.devices.value = lists;
    // A chosen device that was unplugged falls back to the default.
    const selected = { ...store.selectedDevices.value };
    let lost: "audioinput" | "videoinput" | null = null;
    for (const kind of Object.keys(selected) as (keyof DeviceChoice)[]) {
      if (
        selected[kind] !== "" &&
        !lists[kind].some((d) => d.id === selected[kind])
      ) {
        selected[kind] = "";
        if (kind !== "audiooutput") lost = kind;
      }
    }
    // The device in use disappeared without being chosen explicitly.
    for (
      const [kind, track] of [
        ["audioinput", this.#stream?.getAudioTracks()[0]],
        [
          "videoinput",
          this.#stream?.getVideoTracks()[0],
        ],
      ] as const
    ) {
      if (track?.readyState === "ended") lost = kind;
    }
    store.selectedDevices.value = selected;
    if (lost !== null) await this.selectDevice(lost, "");
  }

  /**
   * Switches camera, microphone or speaker. Cameras and microphones are
   * swapped in with `replaceTrack`: no renegotiation, no dropped call.
   */
  async selectDevice(
    kind: keyof DeviceChoice,
    deviceId: string,
  ): Promise<void> {
    const { store } = this;
    store.selectedDevices.value = {
      ...store.selectedDevices.value,
      [kind]: deviceId,
    };
    if (kind === "audiooutput") return; // the <video> elements apply it
    const mediaKind = kind === "audioinput" ? "audio" : "video";
    const stream = this.#stream;
    const current = mediaKind === "audio"
      ? stream?.getAudioTracks()[0]
      : stream?.getVideoTracks()[0];
    if (stream === null || current === undefined) return; // used when turned on
    try {
      const fresh = await this.#deps.getUserMedia({
        [mediaKind]: this.#constraints(mediaKind),
      });
      const track = fresh.getTracks()[0];
      track.enabled = current.enabled;
      current.stop();
      stream.removeTrack(current);
      stream.addTrack(track);
      this.#publish();
      store.mediaError.value = null;
      await this.#mesh?.setTrack(mediaKind, { kind: mediaKind, track, stream });
    } catch (error) {
      store.mediaError.value = describeMediaError(error);
    }
  }

  /** After a network change: reconnect signaling now, restart ICE where connections suffer. */
  networkChanged(): void {
    this.#signaling?.onlineChanged();
    this.#mesh?.restartUnhealthy();
  }

  /** One stats sample now (the interval calls this). */
  sampleStats(): Promise<void> {
    return this.#mesh?.sampleStats() ?? Promise.resolve();
  }

  #constraints(kind: "audio" | "video"): MediaTrackConstraints {
    const id = this.store.selectedDevices
      .value[kind === "audio" ? "audioinput" : "videoinput"];
    const device = id === "" ? {} : { deviceId: { exact: id } };
    return kind === "video" ? { ...VIDEO_CONSTRAINTS, ...device } : device;
  }

  /** Sends a chat message to everyone in the room. */
  sendChat(text: string): boolean {
    return this.#mesh?.sendChat(text) ?? false;
  }

  /** Everything a newly arrived peer should receive, screen share included. */
  #localTracks(): LocalTrack[] {
    const out: LocalTrack[] = [];
    const stream = this.#stream;
    for (const track of stream?.getTracks() ?? []) {
      out.push({
        kind: track.kind === "audio" ? "audio" : "video",
        track,
        stream: stream!,
      });
    }
    const screen = this.store.screenStream.value;
    const screenTrack = screen?.getVideoTracks()[0];
    if (screen && screenTrack) {
      out.push({ kind: "screen", track: screenTrack, stream: screen });
    }
    return out;
  }

  /** Shows the current tracks: a new stream object so signals see a change. */
  #publish(): void {
    const stream = this.#stream;
    this.store.localStream.value = stream === null ? null : new MediaStream(stream.getTracks());
  }

  #onServerMessage(message: ServerMessage): void {
    const { store } = this;
    const room = store.room.value;
    switch (message.event) {
      case "welcome":
        this.#resumeWindowMs = (message.data.resume_window ?? 25) * 1000;
        if (store.phase.value === "in-call") {
          // The server could not take us back (our token was refused):
          // we are someone new to the others now, so start the mesh over.
          this.#mesh?.closeAll();
          store.notice.value = "Reconnected to the server as a new participant.";
        }
        this.#mesh?.handle(message);
        if (room !== null) {
          this.#signaling?.send({
            event: "join",
            data: { channel: room, userdata: { name: store.name.value } },
          });
        }
        return;
      case "joined":
        if (message.data.channel === room) store.setPhase("in-call");
        return;
      case "resumed":
        store.notice.value = null;
        if (message.data.restored) {
          // Everyone still here resumes within the server's window (backoff
          // tops out at 15 s); whoever is not back by then left meanwhile.
          this.#mesh?.expectReintroductions();
          this.#clearReintroductionTimer();
          this.#reintroductionTimer = (this.#deps.timers ?? GLOBAL_TIMERS).setTimeout(
            () => this.#mesh?.dropUnintroduced(),
            this.#resumeWindowMs + 5000,
          );
        }
        return;
      case "peerAway":
      case "peerBack":
        store.patchParticipant(message.data.peer_id, { away: message.event === "peerAway" });
        return;
      case "error":
        if (message.data.event === "join" && store.phase.value === "joining") {
          store.fail(describeServerError(message.data.code));
          this.#teardown();
          store.setPhase("prejoin");
        } else if (message.data.code !== "unknown_peer" && message.data.code !== "bad_token") {
          store.notice.value = describeServerError(message.data.code);
        }
        return;
      default:
        this.#mesh?.handle(message);
    }
  }

  #onGiveUp(reason: GiveUpReason): void {
    const { store } = this;
    if (store.phase.value === "joining" || reason !== "unreachable") {
      store.fail(GIVE_UP_TEXT[reason]);
      this.#teardown();
      store.setPhase("prejoin");
      return;
    }
    // Media flows peer to peer: keep the calls we have, say what changed.
    this.#signaling = null;
    store.notice.value =
      "Lost the connection to the server. Your current calls continue, but nobody new can join you. Leave and rejoin to reconnect.";
  }

  #clearReintroductionTimer(): void {
    if (this.#reintroductionTimer === undefined) return;
    (this.#deps.timers ?? GLOBAL_TIMERS).clearTimeout(this.#reintroductionTimer);
    this.#reintroductionTimer = undefined;
  }

  #teardown(): void {
    this.#clearReintroductionTimer();
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    void this.#stopScreenShare();
    this.#mesh?.closeAll();
    this.#mesh = null;
    const signaling = this.#signaling;
    this.#signaling = null;
    signaling?.close();
  }
}
