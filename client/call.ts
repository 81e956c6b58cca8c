/**
 * The call controller: joins and leaves, and the one place where server
 * messages are dispatched — to the mesh (peers and their signaling), the
 * store (phase, presence, errors) or the controller itself (resume
 * bookkeeping). It composes {@linkcode LocalMedia} (our camera, microphone
 * and screen), the {@linkcode SignalingClient}, the {@linkcode Mesh} and
 * its {@linkcode Monitor}. Browser APIs come in through
 * {@linkcode CallDeps} so the flow is testable with fakes.
 *
 * @module
 */

import type { HostTargetEvent, ResumeChannel, RoomState, ServerMessage } from "../lib/protocol.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { LocalMedia, type MediaApis } from "./local_media.ts";
import { Mesh } from "./mesh.ts";
import { Monitor } from "./monitor.ts";
import { type GiveUpReason, SignalingClient, type SocketLike } from "./signaling.ts";
import { type CallStore, cleanName } from "./store.ts";
import { describeServerError, GIVE_UP_TEXT, NOTICE_TEXT } from "./wording.ts";

/** The server frames a peer's connection consumes (held until `joined`). */
type PeerFrameEvent = "addPeer" | "sessionDescription" | "iceCandidate";

/** One handler for every server event: the compiler says when one is missing. */
type FrameHandlers = {
  [E in ServerMessage["event"]]: (message: Extract<ServerMessage, { event: E }>) => void;
};

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
}

/** How long the server keeps our place after a drop when `welcome` does not say, s. */
const DEFAULT_RESUME_WINDOW_S = 25;

/**
 * Extra wait past the server's resume window before peers that were not
 * reintroduced count as gone: reconnect backoff tops out at 15 s, so
 * everyone still here is back by then.
 */
const REINTRODUCTION_MARGIN_MS = 5000;

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
  #reintroductionTimer: unknown;
  /** Whether the current connection asks to be let in rather than joins. */
  #knocking = false;
  /**
   * Peer frames that arrive while we join: the server introduces the room
   * (`addPeer`s) before `joined`, which carries our ICE servers — TURN
   * credentials included — so connections wait for it.
   */
  #early: ServerMessage[] = [];
  #resumeWindowMs = DEFAULT_RESUME_WINDOW_S * 1000;

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
  }

  /** The mesh of the current call (for tests). */
  get mesh(): Mesh | null {
    return this.#mesh;
  }

  /**
   * Connects to the server and joins the room as `name` — or, with
   * `knock`, asks the room's hosts to let us in (a locked room).
   */
  join(name: string, { knock = false }: { knock?: boolean } = {}): void {
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
    this.#knocking = knock;
    store.setPhase("joining");
    store.linkStatus.value = "connecting";
    const signaling = new SignalingClient({
      url: this.#deps.signalingUrl,
      createSocket: this.#deps.createSocket,
      onMessage: (message) => this.#dispatch(message),
      onStatus: (status) => {
        store.linkStatus.value = status;
      },
      onGiveUp: (reason) => this.#onGiveUp(reason),
      // Only a member rejoins on resume; someone at the door knocks again.
      channels: () => store.phase.value === "in-call" ? [this.#joinRequest(room)] : [],
      browser: this.#deps.browserId,
      timers: this.#timers,
      isOnline: this.#deps.isOnline,
      random: this.#deps.random,
    });
    const monitor = new Monitor({ store, peers: () => mesh, timers: this.#timers });
    const mesh: Mesh = new Mesh({
      store,
      send: (message) => signaling.send(message),
      createConnection: this.#deps.createConnection,
      localTracks: () => this.media.tracks(),
      chatVisible: this.#deps.chatVisible,
      listener: monitor,
      timers: this.#timers,
    });
    this.#signaling = signaling;
    this.#mesh = mesh;
    this.#monitor = monitor;
    signaling.start();
    monitor.start(this.#deps.statsIntervalMs ?? 0);
  }

  /** Leaves the call: everyone's tile of us goes away at once. */
  leave(): void {
    const room = this.store.room.value;
    if (room !== null) this.#signaling?.send({ event: "part", data: { channel: room } });
    this.#teardown();
    this.store.setPhase("prejoin");
  }

  /** Raises or lowers our hand; everyone sees it on our tile and in the list. */
  toggleHand(): void {
    this.store.handRaised.value = !this.store.handRaised.value;
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

  /** Joins `room` (with the password and browser id, if any) or knocks on it. */
  #enter(room: string): void {
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

  /** Denied at the door or removed from the room: back to the pre-join screen, saying why. */
  #turnedAway(why: string): void {
    const { store } = this;
    store.gate.value = null;
    store.fail(why);
    this.#teardown();
    store.setPhase("prejoin");
  }

  /**
   * Host: removes someone for the rest of the meeting, and offers to lock
   * the room behind them (others with the link could still walk in).
   */
  removeFromRoom(peerId: string, name: string): void {
    this.hostAction("remove", peerId);
    if (this.store.authority.value?.locked === false) this.store.lockOffer.value = name;
  }

  /** Host: locks or unlocks the room. */
  lockRoom(locked: boolean): void {
    this.store.lockOffer.value = null;
    const channel = this.store.room.value;
    if (channel !== null) this.#signaling?.send({ event: "lock", data: { channel, locked } });
  }

  /** Host: sets the room password, or clears it with `null`. */
  setRoomPassword(password: string | null): void {
    const channel = this.store.room.value;
    if (channel === null) return;
    this.#signaling?.send({ event: "setPassword", data: { channel, password } });
  }

  /**
   * Host: acts on one person — make them a host, ask them to mute, remove
   * them, or let a knocker in or not. The server checks we may.
   */
  hostAction(event: HostTargetEvent, peerId: string): void {
    const channel = this.store.room.value;
    if (channel === null) return;
    this.#signaling?.send({ event, data: { channel, peer_id: peerId } });
  }

  /** Every server frame the app sees goes through here, to its handler. */
  #dispatch(message: ServerMessage): void {
    (this.#handlers[message.event] as (message: ServerMessage) => void)(message);
  }

  /** One handler per server event: the table says what each frame does to the call. */
  readonly #handlers: FrameHandlers = {
    welcome: ({ data }) => {
      const { store } = this;
      this.#resumeWindowMs = (data.resume_window ?? DEFAULT_RESUME_WINDOW_S) * 1000;
      if (store.phase.value === "in-call") {
        // The server could not take us back (our token was refused):
        // we are someone new to the others now, so start the mesh over.
        this.#mesh?.closeAll();
        store.notice.value = NOTICE_TEXT.rejoinedAsNew;
      }
      this.#mesh?.setIceServers(data.ice_servers);
      store.selfId.value = data.peer_id;
      const room = store.room.value;
      if (room !== null) this.#enter(room);
    },
    joined: ({ data }) => {
      const { store } = this;
      if (data.channel !== store.room.value) return;
      const { ice_servers: servers, ice_transport_policy: policy, room_state } = data;
      if (servers !== undefined) this.#mesh?.setIceServers(servers, policy);
      if (room_state !== undefined) this.#setAuthority(room_state);
      store.setPhase("in-call");
      for (const early of this.#early.splice(0)) this.#dispatch(early);
    },
    iceServers: ({ data }) =>
      this.#mesh?.setIceServers(data.ice_servers, data.ice_transport_policy),
    resumed: ({ data }) => {
      this.store.notice.value = null;
      if (data.restored) this.#awaitReintroductions();
      // Who left while we were away (their removePeer may have died with
      // the server we were on) is dropped; who came is introduced next.
      else if (data.peers !== undefined) this.#mesh?.keepOnly(data.peers);
    },
    addPeer: (message) => this.#peerFrame(message),
    sessionDescription: (message) => this.#peerFrame(message),
    iceCandidate: (message) => this.#peerFrame(message),
    removePeer: ({ data }) => this.#mesh?.remove(data.peer_id),
    peerAway: ({ data }) => this.store.patchParticipant(data.peer_id, { away: true }),
    peerBack: ({ data }) => {
      this.store.patchParticipant(data.peer_id, { away: false });
      this.#mesh?.renegotiate(data.peer_id);
    },
    // The signaling client keeps the resume token; a part is ours and needs no answer.
    session: () => {},
    parted: () => {},
    roomState: ({ data }) => {
      if (data.channel === this.store.room.value) this.#setAuthority(data);
    },
    knocks: ({ data }) => {
      if (data.channel !== this.store.room.value) return;
      this.store.setKnocks(data.knocks.map((k) => ({ id: k.peer_id, name: k.name })));
    },
    knocking: () => {
      this.store.gate.value = "knocking";
    },
    denied: () => this.#turnedAway(NOTICE_TEXT.denied),
    removed: () => this.#turnedAway(GIVE_UP_TEXT.removed),
    muted: () => {
      if (this.store.micOn.value) void this.media.toggleMic();
      this.store.notice.value = NOTICE_TEXT.hostMuted;
    },
    roomAlert: ({ data }) => {
      // Only hosts are sent it: someone may be guessing the room's password.
      if (data.channel === this.store.room.value) {
        this.store.notice.value = NOTICE_TEXT.wrongPasswords;
      }
    },
    error: ({ data }) => {
      const { store } = this;
      if ((data.event === "join" || data.event === "knock") && store.phase.value === "joining") {
        const { code, event } = data;
        // A locked room or a password is a door to knock at, not a failure.
        if (code === "room_locked") store.gate.value = "locked";
        else if (code === "password_required" || code === "wrong_password") {
          store.gate.value = "password";
        } else if (code === "rate_limited" && store.gate.value === "password") {
          // Too many wrong passwords (ours, or strangers' for this room):
          // the hosts can still let us in.
          store.gate.value = "busy";
        }
        if (code !== "room_locked" && code !== "password_required") {
          store.fail(describeServerError(code, event));
        }
        this.#teardown();
        store.setPhase("prejoin");
      } else if (data.code !== "unknown_peer" && data.code !== "bad_token") {
        store.notice.value = describeServerError(data.code);
      }
    },
  };

  /** A peer's introduction or signal: held until `joined`, then to the mesh. */
  #peerFrame(message: Extract<ServerMessage, { event: PeerFrameEvent }>): void {
    if (this.store.phase.value === "joining") {
      this.#early.push(message);
      return;
    }
    this.#toMesh(message);
  }

  /** The room's hosts, lock and password, from `roomState` or `joined`. */
  #setAuthority(state: RoomState): void {
    this.store.authority.value = {
      hosts: state.hosts,
      locked: state.locked,
      password: state.password,
    };
  }

  /** Hands a peer's introduction or signaling to the mesh. */
  #toMesh(
    message: Extract<
      ServerMessage,
      { event: "addPeer" | "sessionDescription" | "iceCandidate" }
    >,
  ): void {
    const mesh = this.#mesh;
    if (message.event === "addPeer") {
      mesh?.add(message.data.peer_id, {
        polite: message.data.polite,
        initiator: message.data.should_create_offer,
        name: cleanName(message.data.userdata.name),
      });
    } else if (message.event === "sessionDescription") {
      mesh?.receive(message.data.peer_id, { description: message.data.session_description });
    } else {
      mesh?.receive(message.data.peer_id, { candidate: message.data.ice_candidate });
    }
  }

  /**
   * The server restarted and rebuilt its rooms from resuming clients:
   * everyone still here resumes within its window, so whoever it has not
   * reintroduced by then left meanwhile.
   */
  #awaitReintroductions(): void {
    this.#mesh?.expectReintroductions();
    this.#clearReintroductionTimer();
    this.#reintroductionTimer = this.#timers.setTimeout(
      () => this.#mesh?.dropUnintroduced(),
      this.#resumeWindowMs + REINTRODUCTION_MARGIN_MS,
    );
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
    store.notice.value = NOTICE_TEXT.serverLost;
  }

  #clearReintroductionTimer(): void {
    if (this.#reintroductionTimer === undefined) return;
    this.#timers.clearTimeout(this.#reintroductionTimer);
    this.#reintroductionTimer = undefined;
  }

  #teardown(): void {
    this.#early = [];
    this.#clearReintroductionTimer();
    this.#monitor?.stop();
    this.#monitor = null;
    void this.media.stopScreenShare();
    this.#mesh?.closeAll();
    this.#mesh = null;
    const signaling = this.#signaling;
    this.#signaling = null;
    signaling?.close();
  }
}
