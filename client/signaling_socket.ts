/**
 * One signaling socket: opens `/ws`, parses every server frame with the
 * shared protocol parsers, and hands the result on. It never reconnects;
 * `SignalingClient` in `signaling.ts` opens a new one of these
 * per attempt. Takes a socket factory so tests run it without a network.
 *
 * @module
 */

import {
  type ClientMessage,
  encode,
  parseServerMessage,
  type ServerMessage,
} from "../lib/protocol.ts";

/** The part of `WebSocket` this module uses. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Callbacks and collaborators of a {@linkcode SignalingSocket}. */
export interface SignalingSocketOptions {
  /** Every well-formed server frame. */
  onMessage(message: ServerMessage): void;
  /** The socket closed; `opened` tells a refused connection from a drop. */
  onClose(info: { code: number; reason: string; opened: boolean; deliberate: boolean }): void;
  /** A frame the client could not parse (kept out of `onMessage`). */
  onProtocolError?(message: string): void;
  /** Default: `new WebSocket(url)`. */
  createSocket?: (url: string) => SocketLike;
}

const OPEN = 1;

/** One signaling socket, parsed frames in, encoded frames out. */
export class SignalingSocket {
  #socket: SocketLike;
  #opened = false;
  #deliberate = false;

  constructor(url: string, options: SignalingSocketOptions) {
    const create = options.createSocket ?? ((u: string) => new WebSocket(u));
    this.#socket = create(url);
    this.#socket.onopen = () => {
      this.#opened = true;
    };
    this.#socket.onmessage = (event) => {
      const parsed = parseServerMessage(String(event.data));
      if (parsed.ok) options.onMessage(parsed.value);
      else options.onProtocolError?.(parsed.message);
    };
    this.#socket.onclose = (event) => {
      options.onClose({
        code: event.code,
        reason: event.reason ?? "",
        opened: this.#opened,
        deliberate: this.#deliberate,
      });
    };
    this.#socket.onerror = () => {
      // The close event that follows carries what we need.
    };
  }

  /** Whether frames can be sent now. */
  get isOpen(): boolean {
    return this.#socket.readyState === OPEN;
  }

  /** Sends a frame; returns false when the socket is not open. */
  send(message: ClientMessage): boolean {
    if (!this.isOpen) return false;
    this.#socket.send(encode(message));
    return true;
  }

  /** Closes the socket on purpose (1000). */
  close(): void {
    this.#deliberate = true;
    this.#socket.close(1000, "leaving");
  }
}
