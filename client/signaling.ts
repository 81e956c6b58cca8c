/**
 * The signaling client the app uses: one identity on the server across
 * many sockets (`SignalingSocket`). When a socket closes abnormally it
 * reconnects with exponential backoff and jitter (pausing while the
 * browser is offline), proves its identity with the resume token, and
 * delivers what was sent meanwhile. Peer connections are not touched —
 * media flows peer to peer and does not need the server to keep flowing.
 *
 * It consumes only the frames of the resume handshake (`session`, a
 * `welcome` while resuming, a refused `resume`); every other frame goes to
 * `onMessage`, where the app dispatches it (`call.ts`).
 *
 * @module
 */

import type { ClientMessage, ResumeChannel, ServerMessage } from "../lib/protocol.ts";
import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { SignalingSocket, type SocketLike } from "./signaling_socket.ts";
import { CLOSE_CODES, CLOSE_REASONS } from "../lib/wire.ts";

export type { SocketLike } from "./signaling_socket.ts";

/** Where the connection stands. */
export type LinkStatus = "connecting" | "connected" | "reconnecting" | "closed";

/** Why the connection gave up for good. */
export type GiveUpReason = "unreachable" | "replaced" | "refused" | "removed" | "idle";

/** Collaborators of a {@linkcode SignalingClient}. */
export interface SignalingClientOptions {
  url: string;
  /** Server frames for the app: `welcome` only for a new identity, then everything but `session`. */
  onMessage(message: ServerMessage): void;
  onStatus?(status: LinkStatus): void;
  /** The connection will not come back (first connect failed, another tab took over, kicked). */
  onGiveUp?(reason: GiveUpReason): void;
  /** The channels to rejoin when resuming (with their userdata). */
  channels(): ResumeChannel[];
  /** This browser's lasting id, sent with a resume: a room it rejoins as a newcomer checks it. */
  browser?: string;
  createSocket?: (url: string) => SocketLike;
  /** Default {@linkcode GLOBAL_TIMERS}. */
  timers?: Timers;
  /** Default `Math.random`. */
  random?: () => number;
  /** Default `navigator.onLine` (true where unknown). */
  isOnline?: () => boolean;
  /** Relay frames kept while reconnecting. Default 500. */
  maxQueued?: number;
}

/** The `/ws` URL on the page's own origin. */
export function signalingUrl(
  location: { protocol: string; host: string },
): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}

/** Reconnect delays in ms before jitter: the first retry is fast. */
export const BACKOFF_STEPS = [250, 1000, 2000, 4000, 8000, 15000];

/** The delay before reconnect `attempt` (0-based), with ±30 % jitter. */
export function backoffDelay(attempt: number, random: number): number {
  const base = BACKOFF_STEPS[Math.min(attempt, BACKOFF_STEPS.length - 1)];
  return Math.round(base * (0.7 + 0.6 * random));
}

/** The app's signaling link: one identity across many sockets. */
export class SignalingClient {
  #options: SignalingClientOptions;
  #socket: SignalingSocket | null = null;
  #status: LinkStatus = "connecting";
  #peerId: string | null = null;
  #token: string | null = null;
  /** The `welcome` of the current socket while a resume is pending. */
  #pendingWelcome: Extract<ServerMessage, { event: "welcome" }> | null = null;
  #queue: ClientMessage[] = [];
  #attempt = 0;
  #timer: unknown = null;
  #closed = false;

  constructor(options: SignalingClientOptions) {
    this.#options = options;
  }

  /** The current status. */
  get status(): LinkStatus {
    return this.#status;
  }

  /** Our peer id, once the server gave one. */
  get peerId(): string | null {
    return this.#peerId;
  }

  /** Opens the first connection. */
  start(): void {
    this.#open();
  }

  /**
   * Sends a frame now, or — while reconnecting — queues relays to send
   * after the resume (joins and parts are not queued: they are replayed
   * from the channel list).
   */
  send(message: ClientMessage): boolean {
    if (this.#status === "connected" && this.#socket?.send(message)) return true;
    if (
      this.#status === "reconnecting" &&
      (message.event === "relayICECandidate" || message.event === "relaySessionDescription")
    ) {
      this.#queue.push(message);
      const max = this.#options.maxQueued ?? 500;
      if (this.#queue.length > max) this.#queue.splice(0, this.#queue.length - max);
      return true;
    }
    return false;
  }

  /** The browser came back online: retry now instead of waiting. */
  onlineChanged(): void {
    if (this.#status !== "reconnecting" || this.#socket !== null) return;
    this.#clearTimer();
    this.#open();
  }

  /** Closes for good (leaving). */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#socket?.close();
    this.#socket = null;
    this.#setStatus("closed");
  }

  #open() {
    if (this.#closed) return;
    const socket = new SignalingSocket(this.#options.url, {
      createSocket: this.#options.createSocket,
      onMessage: (message) => {
        if (socket === this.#socket) this.#onMessage(socket, message);
      },
      onClose: (info) => {
        if (socket === this.#socket) this.#onClose(info);
      },
      onProtocolError: (message) => console.warn(message),
    });
    this.#socket = socket;
  }

  #onMessage(socket: SignalingSocket, message: ServerMessage) {
    switch (message.event) {
      case "welcome": {
        if (this.#token !== null && this.#peerId !== null) {
          this.#pendingWelcome = message;
          const browser = this.#options.browser;
          socket.send({
            event: "resume",
            data: {
              token: this.#token,
              channels: this.#options.channels(),
              ...(browser ? { browser } : {}),
            },
          });
          return;
        }
        return this.#adopt(message);
      }
      case "resumed": {
        this.#pendingWelcome = null;
        this.#attempt = 0;
        this.#setStatus("connected");
        const queued = this.#queue.splice(0);
        for (const frame of queued) socket.send(frame);
        this.#options.onMessage(message);
        return;
      }
      case "session":
        this.#token = message.data.resume_token;
        return;
      case "error":
        if (message.data.event === "resume" && this.#pendingWelcome !== null) {
          // The server no longer knows us: carry on as the new identity.
          const welcome = this.#pendingWelcome;
          this.#pendingWelcome = null;
          this.#queue = [];
          this.#options.onMessage(message);
          return this.#adopt(welcome);
        }
        return this.#options.onMessage(message);
      default:
        return this.#options.onMessage(message);
    }
  }

  #adopt(welcome: Extract<ServerMessage, { event: "welcome" }>) {
    this.#peerId = welcome.data.peer_id;
    this.#token = welcome.data.resume_token ?? null;
    this.#attempt = 0;
    this.#setStatus("connected");
    this.#options.onMessage(welcome);
  }

  #onClose(info: { code: number; reason: string; opened: boolean; deliberate: boolean }) {
    this.#socket = null;
    if (info.deliberate || this.#closed) return;
    if (info.code === CLOSE_CODES.replaced) return this.#giveUp("replaced");
    if (info.code === CLOSE_CODES.removed) return this.#giveUp("removed");
    if (info.code === CLOSE_CODES.policyViolation) {
      // Left idle before joining: nothing went wrong, the app connects again when needed.
      return this.#giveUp(info.reason === CLOSE_REASONS.joinTimeout ? "idle" : "refused");
    }
    if (this.#peerId === null) return this.#giveUp("unreachable");
    // A server that never offered resuming cannot take us back.
    if (this.#token === null) return this.#giveUp("unreachable");
    this.#setStatus("reconnecting");
    this.#schedule();
  }

  #schedule() {
    const online = this.#options.isOnline?.() ??
      (typeof navigator === "undefined" || navigator.onLine !== false);
    if (!online) return; // onlineChanged() retries when the network is back
    const delay = backoffDelay(this.#attempt++, (this.#options.random ?? Math.random)());
    this.#timer = (this.#options.timers ?? GLOBAL_TIMERS).setTimeout(() => {
      this.#timer = null;
      this.#open();
    }, delay);
  }

  #clearTimer() {
    if (this.#timer !== null) {
      (this.#options.timers ?? GLOBAL_TIMERS).clearTimeout(this.#timer);
    }
    this.#timer = null;
  }

  #giveUp(reason: GiveUpReason) {
    this.#closed = true;
    this.#setStatus("closed");
    this.#options.onGiveUp?.(reason);
  }

  #setStatus(status: LinkStatus) {
    if (this.#status === status) return;
    this.#status = status;
    this.#options.onStatus?.(status);
  }
}
