/**
 * The call controller: joins and leaves, host actions, and the connection
 * whose server frames it hands to {@linkcode CallFrames} (the table of what
 * each frame does to the call). The connection opens on the pre-join
 * screen, which asks it what stands at the room's door, so Join sends
 * `join` at once. It composes {@linkcode LocalMedia} (our
 * camera, microphone and screen), the {@linkcode SignalingClient}, the
 * {@linkcode Mesh} and its {@linkcode Monitor}; with security codes on, it
 * loads this browser's certificate with the page and joins once it is there. Browser APIs come in
 * through {@linkcode CallDeps} so the flow is testable with fakes.
 *
 * @module
 */

import type { HostTargetEvent, ResumeChannel } from "../lib/protocol.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { CallFrames } from "./call_frames.ts";
import type { LoadedCertificate } from "./certificate_store.ts";
import { LocalMedia, type MediaApis } from "./local_media.ts";
import { Mesh, type MeshSecurity } from "./mesh.ts";
import { Monitor } from "./monitor.ts";
import { type GiveUpReason, SignalingClient, type SocketLike } from "./signaling.ts";
import { type CallStore, cleanName } from "./store.ts";
import { GIVE_UP_TEXT, NOTICE_TEXT } from "./wording.ts";

/** The browser APIs the controller needs. */
export interface CallDeps extends MediaApis {
  /** Timers for reconnecting, resume waits, ICE restarts and stats sampling. Default {@linkcode GLOBAL_TIMERS}. */
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
  /**
   * This browser's lasting random id (kept in localStorage), so a host's
   * removal holds for the rest of the meeting even across reloads.
   */
  browserId?: string;
  /** Our microphone's level without stats, for the speaker highlight (a Web Audio meter). */
  audioMeter?: { level(track: MediaStreamTrack | null): number | null; close(): void };
  /** Security codes (issue 25); without them no code is shown. */
  security?: CallSecurity;
}

/** What security codes need from the browser: its certificate and what it remembers. */
export interface CallSecurity extends Omit<MeshSecurity, "certificates"> {
  /** This browser's DTLS certificate (`CertificateStore.certificate`); never rejects. */
  certificate(): Promise<LoadedCertificate>;
}

/** The actions of one call. */
export class CallController {
  /** The signals the UI reads. */
  readonly store: CallStore;
  /** Our camera, microphone and screen share. */
  readonly media: LocalMedia;
  #deps: CallDeps;
  #timers: Timers;
  #signaling: SignalingClient | null = null;
  #mesh: Mesh | null = null;
  #monitor: Monitor | null = null;
  #frames: CallFrames;
  /** Whether the current connection asks to be let in rather than joins. */
  #knocking = false;
  /** Our certificate, once loaded; until then joining waits for it. */
  #certificate: RTCCertificate | null = null;
  #certificateLoaded: Promise<void> | null = null;

  constructor(store: CallStore, deps: CallDeps) {
    this.store = store;
    this.#deps = deps;
    this.#timers = deps.timers ?? GLOBAL_TIMERS;
    this.media = new LocalMedia(store, {
      getUserMedia: deps.getUserMedia,
      getDisplayMedia: deps.getDisplayMedia,
      enumerateDevices: deps.enumerateDevices,
      setTrack: (kind, local) => this.#mesh?.setTrack(kind, local) ?? Promise.resolve(),
      announceState: () => this.#mesh?.announceState(),
    });
    // Loaded with the page: by the time someone presses Join it is there.
    const security = deps.security;
    if (security !== undefined) {
      this.#certificateLoaded = security.certificate().then(({ certificate, persistent }) => {
        this.#certificate = certificate;
        store.setCertificatePersistent(persistent);
      }, () => store.setCertificatePersistent(false)).finally(() => {
        this.#certificateLoaded = null;
      });
    }
    this.#frames = new CallFrames({
      store,
      media: this.media,
      mesh: () => this.#mesh,
      enter: (room) => this.#enter(room),
      askDoor: (room) => this.#askDoor(room),
      backToDoor: () => this.#backToDoor(),
      endCall: () => this.#endCall(),
      timers: this.#timers,
    });
  }

  /** The mesh of the current call (for tests). */
  get mesh(): Mesh | null {
    return this.#mesh;
  }

  /** Opens the pre-join connection unless open: the door is asked, and Join joins at once. */
  connect(): void {
    const { store } = this;
    if (store.phase.value !== "prejoin" || store.room.value === null) return;
    if (this.#signaling === null) this.#connect();
  }

  /** Joins the room as `name`, or with `knock` asks its hosts to let us in. */
  join(name: string, { knock = false }: { knock?: boolean } = {}): void {
    const { store } = this;
    const room = store.room.value;
    if (
      room === null || store.phase.value === "joining" ||
      store.phase.value === "in-call"
    ) return;
    const displayName = cleanName(name);
    this.#deps.saveName?.(displayName);
    this.#knocking = knock;
    store.startJoining(displayName);
    this.#monitor?.start(this.#deps.statsIntervalMs ?? 0);
    const signaling = this.#signaling;
    if (signaling === null) return this.#connect();
    store.setLinkStatus(signaling.status);
    // Welcomed already: join now (otherwise `welcome` does).
    if (signaling.status === "connected" && signaling.peerId !== null) {
      store.welcomed(signaling.peerId);
      this.#enter(room);
    }
  }

  /** Opens a connection, with its mesh and monitor; `welcome` asks the door or joins. */
  #connect(): void {
    const { store } = this;
    const room = store.room.value;
    if (room === null) return;
    const signaling = new SignalingClient({
      url: this.#deps.signalingUrl,
      createSocket: this.#deps.createSocket,
      onMessage: (message) => this.#frames.dispatch(message),
      onStatus: (status) => {
        // A pre-join connection has nothing to resume: it is opened afresh when needed.
        if (status === "reconnecting" && store.phase.value === "prejoin") return this.#teardown();
        store.setLinkStatus(status);
      },
      onGiveUp: (reason) => this.#onGiveUp(reason),
      // Only a member rejoins on resume; someone at the door knocks again.
      channels: () => store.phase.value === "in-call" ? [this.#joinRequest(room)] : [],
      browser: this.#deps.browserId,
      timers: this.#timers,
      isOnline: this.#deps.isOnline,
      random: this.#deps.random,
    });
    const monitor = new Monitor({
      store,
      peers: () => mesh,
      timers: this.#timers,
      ownLevel: () =>
        this.#deps.audioMeter?.level(
          this.media.tracks().find((local) => local.kind === "audio")?.track ?? null,
        ) ?? null,
    });
    const mesh: Mesh = new Mesh({
      store,
      send: (message) => signaling.send(message),
      createConnection: this.#deps.createConnection,
      localTracks: () => this.media.tracks(),
      chatVisible: this.#deps.chatVisible,
      listener: monitor,
      timers: this.#timers,
      security: this.#meshSecurity(),
    });
    this.#signaling = signaling;
    this.#mesh = mesh;
    this.#monitor = monitor;
    signaling.start();
    if (store.phase.value === "joining") monitor.start(this.#deps.statsIntervalMs ?? 0);
  }

  /** Leaves the call (our tile goes at once), the knock, or the pre-join connection. */
  leave(): void {
    const room = this.store.room.value;
    const phase = this.store.phase.value;
    if (room !== null && (phase === "joining" || phase === "in-call")) {
      this.#signaling?.send({ event: "part", data: { channel: room } });
    }
    this.#endCall();
  }

  /** Raises or lowers our hand; everyone sees it on our tile and in the list. */
  toggleHand(): void {
    this.store.toggleHand();
    this.#mesh?.announceState();
  }

  /** After a network change: reconnect signaling now, restart ICE where connections suffer. */
  networkChanged(): void {
    this.#signaling?.onlineChanged();
    this.#mesh?.restartUnhealthy();
  }

  /** Sends a chat message to everyone in the room. */
  sendChat(text: string): boolean {
    return this.#mesh?.sendChat(text) ?? false;
  }

  /** The channel and userdata we join with — and rejoin with when resuming. */
  #joinRequest(room: string): ResumeChannel {
    return { channel: room, userdata: { name: this.store.name.value } };
  }

  /** Security codes for the mesh: every connection uses our certificate. */
  #meshSecurity(): MeshSecurity | undefined {
    const security = this.#deps.security;
    if (security === undefined) return;
    const { certificate: _, ...rest } = security;
    return {
      ...rest,
      certificates: () => this.#certificate === null ? [] : [this.#certificate],
    };
  }

  /** Marks someone's security code `code` verified if it is still theirs, or with `null` removes the verification. */
  setVerified(peerId: string, code: string | null): void {
    this.#mesh?.setVerified(peerId, code);
  }

  /**
   * Joins `room` (with the password and browser id, if any) or knocks on
   * it, once our certificate is loaded: connections made before would
   * use one of the browser's own, and show a code that changes.
   */
  #enter(room: string): void {
    const loading = this.#certificateLoaded;
    if (loading === null) return this.#sendEnter(room);
    const signaling = this.#signaling;
    void loading.then(() => {
      if (this.#signaling === signaling && this.store.phase.value === "joining") {
        this.#sendEnter(room);
      }
    });
  }

  #sendEnter(room: string): void {
    const browser = this.#deps.browserId;
    const request = { ...this.#joinRequest(room), ...(browser ? { browser } : {}) };
    if (this.#knocking) {
      this.#signaling?.send({ event: "knock", data: request });
      return;
    }
    const password = this.store.password.value;
    this.#signaling?.send({
      event: "join",
      data: password === "" ? request : { ...request, password },
    });
  }

  /**
   * Host: removes someone for the rest of the meeting, and offers to lock
   * the room behind them (others with the link could still walk in).
   */
  removeFromRoom(peerId: string, name: string): void {
    this.hostAction("remove", peerId);
    this.store.offerLock(name);
  }

  /** Host: locks or unlocks the room. */
  lockRoom(locked: boolean): void {
    this.store.dismissLockOffer();
    const channel = this.store.room.value;
    if (channel !== null) this.#signaling?.send({ event: "lock", data: { channel, locked } });
  }

  /** Host: sets the room password, or clears it with `null`. */
  setRoomPassword(password: string | null): void {
    const channel = this.store.room.value;
    if (channel === null) return;
    this.#signaling?.send({ event: "setPassword", data: { channel, password } });
  }

  /** Host: makes one person a host, asks them to mute, removes them, or answers a knock. */
  hostAction(event: HostTargetEvent, peerId: string): void {
    const channel = this.store.room.value;
    if (channel === null) return;
    this.#signaling?.send({ event, data: { channel, peer_id: peerId } });
  }

  #onGiveUp(reason: GiveUpReason): void {
    const { store } = this;
    if (store.phase.value === "prejoin") {
      // Nothing to say on the pre-join screen: coming back to it, or Join, connects again.
      return this.#teardown();
    }
    if (reason === "idle" && store.phase.value === "joining") {
      // Join was pressed as the idle connection closed: join on a new one.
      this.#teardown();
      this.#connect();
      return;
    }
    if (store.phase.value === "joining" || reason !== "unreachable") {
      store.fail(GIVE_UP_TEXT[reason]);
      this.#endCall();
      return;
    }
    // Media flows peer to peer: keep the calls we have, say what changed.
    this.#signaling = null;
    store.notify(NOTICE_TEXT.serverLost);
  }

  /**
   * A join the door refused (a lock, a password): back to the pre-join
   * screen on the same connection, which follows the door again.
   */
  #backToDoor(): void {
    this.#frames.reset();
    this.#monitor?.stop();
    this.store.setPhase("prejoin");
    const room = this.store.room.value;
    if (room !== null) this.#askDoor(room);
  }

  /** Asks what stands at `room`'s door for us (our browser id: a removal locks it). */
  #askDoor(room: string): void {
    const browser = this.#deps.browserId;
    this.#signaling?.send({
      event: "door",
      data: browser ? { channel: room, browser } : { channel: room },
    });
  }

  /** Closes the connection, the peers and the screen share; back to the pre-join screen. */
  #endCall(): void {
    this.#teardown();
    this.store.setPhase("prejoin");
  }

  #teardown(): void {
    this.#frames.reset();
    this.#monitor?.stop();
    this.#monitor = null;
    this.#deps.audioMeter?.close();
    void this.media.stopScreenShare();
    this.#mesh?.closeAll();
    this.#mesh = null;
    const signaling = this.#signaling;
    this.#signaling = null;
    signaling?.close();
  }
}
