/**
 * What each server frame does to the call: a table with one handler per
 * event, so the compiler says when one is missing. A frame goes to the mesh
 * (peers and their signaling), to the store's actions (phase, presence,
 * authority, the door, notices) or stays here: the peer frames held while
 * we join, and the wait for reintroductions after the server restarted.
 * The {@linkcode CallController} owns the connection and hands every frame
 * it receives to {@linkcode CallFrames.dispatch}.
 *
 * @module
 */

import type { ServerMessage } from "../lib/protocol.ts";
import type { Timers } from "./_timers.ts";
import type { LocalMedia } from "./local_media.ts";
import type { Mesh } from "./mesh.ts";
import { type CallStore, cleanName } from "./store.ts";
import { describeServerError, GIVE_UP_TEXT, NOTICE_TEXT } from "./wording.ts";

/** The server frames a peer's connection consumes (held until `joined`). */
type PeerFrame = Extract<
  ServerMessage,
  { event: "addPeer" | "sessionDescription" | "iceCandidate" }
>;

/** One handler for every server event: the compiler says when one is missing. */
type FrameHandlers = {
  [E in ServerMessage["event"]]: (message: Extract<ServerMessage, { event: E }>) => void;
};

/** What the handlers act on besides the store; callbacks never throw. */
export interface CallFramesOptions {
  store: CallStore;
  /** Our microphone, which a host may ask us to mute. */
  media: LocalMedia;
  /** The mesh of the current call, if there is one. */
  mesh(): Mesh | null;
  /** Joins `room`, or knocks on it: the server has welcomed us. */
  enter(room: string): void;
  /** Asks what stands at `room`'s door (and to hear when it changes). */
  askDoor(room: string): void;
  /** A join the door refused: back to the pre-join screen, the connection kept. */
  backToDoor(): void;
  /** Closes the connection and goes back to the pre-join screen. */
  endCall(): void;
  /** Timers for the reintroduction wait. */
  timers: Timers;
}

/** How long the server keeps our place after a drop when `welcome` does not say, s. */
const DEFAULT_RESUME_WINDOW_S = 25;

/**
 * Extra wait past the server's resume window before peers that were not
 * reintroduced count as gone: reconnect backoff tops out at 15 s, so
 * everyone still here is back by then.
 */
const REINTRODUCTION_MARGIN_MS = 5000;

/** The server frames of one call, each applied to the call by its handler. */
export class CallFrames {
  #options: CallFramesOptions;
  /**
   * Peer frames that arrive while we join: the server introduces the room
   * (`addPeer`s) before `joined`, which carries our ICE servers — TURN
   * credentials included — so connections wait for it.
   */
  #early: ServerMessage[] = [];
  #resumeWindowMs = DEFAULT_RESUME_WINDOW_S * 1000;
  #reintroductionTimer: unknown;

  constructor(options: CallFramesOptions) {
    this.#options = options;
  }

  /** Every server frame the app sees goes through here, to its handler. */
  dispatch(message: ServerMessage): void {
    (this.#handlers[message.event] as (message: ServerMessage) => void)(message);
  }

  /** The call ended: held frames and the reintroduction wait are forgotten. */
  reset(): void {
    this.#early = [];
    if (this.#reintroductionTimer === undefined) return;
    this.#options.timers.clearTimeout(this.#reintroductionTimer);
    this.#reintroductionTimer = undefined;
  }

  /** One handler per server event: the table says what each frame does to the call. */
  readonly #handlers: FrameHandlers = {
    welcome: ({ data }) => {
      const { store, mesh } = this.#options;
      this.#resumeWindowMs = (data.resume_window ?? DEFAULT_RESUME_WINDOW_S) * 1000;
      if (store.phase.value === "in-call") {
        // The server could not take us back (our token was refused):
        // we are someone new to the others now, so start the mesh over.
        mesh()?.closeAll();
        store.notify(NOTICE_TEXT.rejoinedAsNew);
      }
      mesh()?.setIceServers(data.ice_servers);
      store.welcomed(data.peer_id);
      const room = store.room.value;
      if (room === null) return;
      // On the pre-join screen: what stands at the door, before anyone presses Join.
      if (store.phase.value === "prejoin") this.#options.askDoor(room);
      else this.#options.enter(room);
    },
    door: ({ data }) => {
      const { store } = this.#options;
      if (data.channel === store.room.value) store.doorSeen(data.door);
    },
    joined: ({ data }) => {
      const { store, mesh } = this.#options;
      if (data.channel !== store.room.value) return;
      const { ice_servers: servers, ice_transport_policy: policy, room_state } = data;
      if (servers !== undefined) mesh()?.setIceServers(servers, policy);
      if (room_state !== undefined) store.setAuthority(room_state);
      store.setPhase("in-call");
      for (const early of this.#early.splice(0)) this.dispatch(early);
    },
    iceServers: ({ data }) =>
      this.#options.mesh()?.setIceServers(data.ice_servers, data.ice_transport_policy),
    resumed: ({ data }) => {
      const { store } = this.#options;
      store.clearNotice();
      const room = store.room.value;
      // Join was pressed while it reconnected: a resume rejoins only a call we were in.
      if (store.phase.value === "joining" && room !== null) this.#options.enter(room);
      if (data.restored) this.#awaitReintroductions();
      // Who left while we were away (their removePeer may have died with
      // the server we were on) is dropped; who came is introduced next.
      else if (data.peers !== undefined) this.#options.mesh()?.keepOnly(data.peers);
    },
    addPeer: (message) => this.#peerFrame(message),
    sessionDescription: (message) => this.#peerFrame(message),
    iceCandidate: (message) => this.#peerFrame(message),
    removePeer: ({ data }) => this.#options.mesh()?.remove(data.peer_id),
    peerAway: ({ data }) => this.#options.store.patchParticipant(data.peer_id, { away: true }),
    peerBack: ({ data }) => {
      this.#options.store.patchParticipant(data.peer_id, { away: false });
      this.#options.mesh()?.renegotiate(data.peer_id);
    },
    // The signaling client keeps the resume token; a part is ours and needs no answer.
    session: () => {},
    parted: () => {},
    roomState: ({ data }) => {
      const { store } = this.#options;
      if (data.channel === store.room.value) store.setAuthority(data);
    },
    knocks: ({ data }) => {
      const { store } = this.#options;
      if (data.channel !== store.room.value) return;
      store.setKnocks(data.knocks.map((k) => ({ id: k.peer_id, name: k.name })));
    },
    knocking: () => this.#options.store.setGate("knocking"),
    denied: () => this.#turnedAway(NOTICE_TEXT.denied),
    removed: () => this.#turnedAway(GIVE_UP_TEXT.removed),
    muted: () => {
      const { store, media } = this.#options;
      if (store.micOn.value) void media.toggleMic();
      store.notify(NOTICE_TEXT.hostMuted);
    },
    roomAlert: ({ data }) => {
      // Only hosts are sent it: someone may be guessing the room's password.
      const { store } = this.#options;
      if (data.channel === store.room.value) store.notify(NOTICE_TEXT.wrongPasswords);
    },
    error: ({ data }) => {
      const { store } = this.#options;
      if ((data.event === "join" || data.event === "knock") && store.phase.value === "joining") {
        const { code, event } = data;
        // A locked room or a password is a door to knock at, not a failure.
        if (code === "room_locked") store.setGate("locked");
        else if (code === "password_required" || code === "wrong_password") {
          store.setGate("password");
        } else if (code === "rate_limited" && store.gate.value === "password") {
          // Too many wrong passwords (ours, or strangers' for this room):
          // the hosts can still let us in.
          store.setGate("busy");
        }
        if (code !== "room_locked" && code !== "password_required") {
          store.fail(describeServerError(code, event));
        }
        this.#options.backToDoor();
      } else if (data.event === "door" || store.phase.value === "prejoin") {
        // The door is a hint (a spent budget, an older server that does not
        // know the question): Join still works and says what stands there.
      } else if (data.code !== "unknown_peer" && data.code !== "bad_token") {
        store.notify(describeServerError(data.code));
      }
    },
  };

  /** A peer's introduction or signal: held until `joined`, then to the mesh. */
  #peerFrame(message: PeerFrame): void {
    if (this.#options.store.phase.value === "joining") {
      this.#early.push(message);
      return;
    }
    const mesh = this.#options.mesh();
    if (mesh !== null) toMesh(mesh, message);
  }

  /** Denied at the door or removed from the room: back to the pre-join screen, saying why. */
  #turnedAway(why: string): void {
    const { store } = this.#options;
    store.setGate(null);
    store.fail(why);
    this.#options.endCall();
  }

  /**
   * The server restarted and rebuilt its rooms from resuming clients:
   * everyone still here resumes within its window, so whoever it has not
   * reintroduced by then left meanwhile.
   */
  #awaitReintroductions(): void {
    const { mesh, timers } = this.#options;
    mesh()?.expectReintroductions();
    if (this.#reintroductionTimer !== undefined) timers.clearTimeout(this.#reintroductionTimer);
    this.#reintroductionTimer = timers.setTimeout(
      () => mesh()?.dropUnintroduced(),
      this.#resumeWindowMs + REINTRODUCTION_MARGIN_MS,
    );
  }
}

/** Hands a peer's introduction or signaling to the mesh. */
function toMesh(mesh: Mesh, message: PeerFrame): void {
  if (message.event === "addPeer") {
    mesh.add(message.data.peer_id, {
      polite: message.data.polite,
      initiator: message.data.should_create_offer,
      name: cleanName(message.data.userdata.name),
    });
  } else if (message.event === "sessionDescription") {
    mesh.receive(message.data.peer_id, { description: message.data.session_description });
  } else {
    mesh.receive(message.data.peer_id, { candidate: message.data.ice_candidate });
  }
}
