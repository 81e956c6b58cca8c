/**
 * One transport connection and the identity it speaks for: the {@linkcode Link}
 * (a socket's frames, the backlog behind an async step, closing) and the
 * {@linkcode PeerRecord} (a peer id that outlives its connections: its home
 * instance, whether it is away, shared with the cluster, leaving, and its
 * resume generation). The hub owns both; nothing here decides anything.
 *
 * @module
 */

import type { ClientMessage } from "./protocol.ts";
import type { ConnectionLimits } from "./rate_limit.ts";

/** The little the hub needs of a socket. */
export interface Connection {
  /** Queues a text frame. May throw if the socket is already closing. */
  send(text: string): void;
  /** Closes the socket with a WebSocket close code. */
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
}

/** How a connection ended, as the transport saw it. */
export interface CloseInfo {
  /**
   * The client meant to go (close code 1000/1001: Leave, tab closed): its
   * peers hear `removePeer` at once. Otherwise (network drop, ping timeout)
   * the peer is held away for the resume window. Default true.
   */
  deliberate?: boolean;
}

/** One connection as the transport sees it. */
export interface Session {
  /** The peer id this connection speaks for now (it changes on resume). */
  readonly peerId: string;
  /** Handles one incoming frame. Never throws. */
  receive(data: unknown): void;
  /** Tells the hub the transport closed. Idempotent; never throws. */
  close(info?: CloseInfo): void;
}

/** Frames a connection may queue behind a password hash before they are refused. */
const MAX_BACKLOG = 64;

/** What a {@linkcode Link} reports to the hub that made it. */
export interface LinkEvents {
  frame(link: Link, data: unknown): void;
  closed(link: Link, deliberate: boolean): void;
  failed(peerId: string, error: unknown): void;
}

/**
 * One peer identity: its channels live in the registry, its resume state in
 * `Resume`. In a cluster the hub holds every instance's peers; only those
 * whose `home` is this instance have a link here.
 */
export class PeerRecord {
  readonly id: string;
  #quoted: string | undefined = undefined;
  /** The instance holding its socket ("" without a cluster). */
  home: string;
  /** Its socket dropped; it may resume within the window. */
  away = false;
  /** Its home instance died: any instance removes it once the window passed. */
  orphan = false;
  /** The other instances know it (it joined or knocked): its leave is shared. */
  shared = false;
  /**
   * The shared order applied an op about it (a join, a knock, a resume), so
   * every instance knows it; `shared` is set when one is proposed.
   */
  known = false;
  /**
   * The rooms were taken from another instance and say its socket is here,
   * but this instance never introduced it to them: its next resume here
   * does, as after a move.
   */
  owed = false;
  /** Its leave was proposed and is on its way back through the shared order. */
  leaving = false;
  /** When its leave was proposed (it is proposed again if it never comes back). */
  leavingAt = 0;
  /** The address group of its latest connection here ("" for none), for waits set while it is away. */
  address = "";
  /**
   * How many resumes it had, counted alike everywhere as they are applied:
   * a leave, an away or a resume proposed before the latest one is stale.
   */
  generation = 0;
  #link: Link | null = null;
  constructor(id: string, home: string) {
    this.id = id;
    this.home = home;
  }

  /**
   * `id` as a JSON string, for frames written by hand; kept once asked for
   * (a peer that relays asks for it on every relay).
   */
  get quoted(): string {
    return this.#quoted ??= JSON.stringify(this.id);
  }

  /** The connection speaking for this peer; null while away or once dropped. */
  get link(): Link | null {
    return this.#link;
  }

  attach(link: Link | null): void {
    this.#link = link;
  }
}

/** One transport connection; it speaks for at most one peer at a time. */
export class Link implements Session {
  readonly conn: Connection;
  /** When the connection opened, ms (for the join timeout). */
  readonly openedAt: number;
  readonly limits: ConnectionLimits;
  readonly #events: LinkEvents;
  #peer: PeerRecord | null = null;
  #spoken = false;
  #closed = false;
  /** Frames waiting behind an async step (a password hash), in arrival order. */
  #backlog: ClientMessage[] | null = null;
  #waits = 0;

  constructor(conn: Connection, now: number, limits: ConnectionLimits, events: LinkEvents) {
    this.conn = conn;
    this.openedAt = now;
    this.limits = limits;
    this.#events = events;
  }

  get peer(): PeerRecord | null {
    return this.#peer;
  }

  get peerId(): string {
    return this.#peer?.id ?? "";
  }

  /** Whether a frame was dispatched yet (`resume` must be the first). */
  get spoken(): boolean {
    return this.#spoken;
  }

  attach(peer: PeerRecord | null): void {
    this.#peer = peer;
  }

  /** Whether frames must wait (an async step is running). */
  get busy(): boolean {
    return this.#backlog !== null;
  }

  /** An async step starts: frames wait behind it. */
  wait(): void {
    this.#waits++;
    this.#backlog ??= [];
  }

  /** Queues a frame behind the running step; false when too many wait. */
  queue(message: ClientMessage): boolean {
    if (this.#backlog === null || this.#backlog.length >= MAX_BACKLOG) return false;
    this.#backlog.push(message);
    return true;
  }

  /** An async step ended: the frames to handle now, in order (none while another runs). */
  done(): ClientMessage[] {
    if (--this.#waits > 0) return [];
    const out = this.#backlog ?? [];
    this.#backlog = null;
    return out;
  }

  /** A frame from the backlog started another step: the rest wait again, first. */
  requeue(rest: ClientMessage[]): void {
    this.#backlog = [...rest, ...(this.#backlog ?? [])];
  }

  /** Marks a frame dispatched; true if it was the first. */
  speak(): boolean {
    const first = !this.#spoken;
    this.#spoken = true;
    return first;
  }

  receive(data: unknown): void {
    try {
      this.#events.frame(this, data);
    } catch (error) {
      // A bug, not bad input: keep the process and the other peers alive.
      this.#events.failed(this.peerId, error);
    }
  }

  /** Whether the transport closed. */
  get closed(): boolean {
    return this.#closed;
  }

  close(info: CloseInfo = {}): void {
    this.#closed = true;
    try {
      this.#events.closed(this, info.deliberate ?? true);
    } catch (error) {
      this.#events.failed(this.peerId, error);
    }
  }
}
