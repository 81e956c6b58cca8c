/**
 * The hub's peer table and the one way out to a socket. {@linkcode Peers}
 * holds every identity this instance knows (in a cluster, every instance's
 * members; only those whose `home` is this instance have a link here), binds
 * links to them, and writes frames: `send` to a peer (held while it is away),
 * `deliver` by id, `error` as the protocol's refusal. A socket that cannot
 * keep up is reported to `onSlow`; what ends the peer is not decided here.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { encode, type ErrorCode, type ServerMessage } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { Resume } from "./resume.ts";
import type { Link, PeerRecord } from "./link.ts";

/** What a {@linkcode Peers} needs. */
export interface PeersOptions {
  /** This instance's id ("" alone): the home of the peers connected here. */
  self: string;
  registry: Registry;
  resume: Resume;
  metrics: Metrics;
  logger: Logger;
  /** Bytes queued to a socket before it is a slow consumer. */
  maxBuffered: number;
  /** A socket passed `maxBuffered`: called once per write that finds it so. */
  onSlow(peer: PeerRecord): void;
}

/** Every known identity, and the frames written to those connected here. */
export class Peers {
  /** This instance's id in the cluster ("" alone). */
  readonly self: string;
  readonly #table = new Map<string, PeerRecord>();
  readonly #registry: Registry;
  readonly #resume: Resume;
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #maxBuffered: number;
  readonly #onSlow: (peer: PeerRecord) => void;
  /** Above 0 while a replayed op applies: its refusals are not answered. */
  #muted = 0;

  constructor(options: PeersOptions) {
    this.self = options.self;
    this.#registry = options.registry;
    this.#resume = options.resume;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#maxBuffered = options.maxBuffered;
    this.#onSlow = options.onSlow;
  }

  get(id: string): PeerRecord | undefined {
    return this.#table.get(id);
  }

  has(id: string): boolean {
    return this.#table.has(id);
  }

  add(peer: PeerRecord): void {
    this.#table.set(peer.id, peer);
  }

  delete(id: string): void {
    this.#table.delete(id);
  }

  values(): IterableIterator<PeerRecord> {
    return this.#table.values();
  }

  /** A copy of the table, for loops that may end peers. */
  list(): PeerRecord[] {
    return [...this.#table.values()];
  }

  clear(): void {
    this.#table.clear();
  }

  /** Whether `peer` is still a live identity here (not ended or replaced). */
  holds(peer: PeerRecord): boolean {
    return this.#table.get(peer.id) === peer;
  }

  /** Whether `peer`'s socket is on this instance (it may be away). */
  isMine(peer: PeerRecord | undefined): peer is PeerRecord {
    return peer !== undefined && peer.home === this.self;
  }

  /** Whether `peerId` shares a room with anyone (someone to relay to). */
  hasCompany(peerId: string): boolean {
    return this.#registry.neighboursOf(peerId).length > 0;
  }

  /** Open connections. */
  get connectionCount(): number {
    let count = 0;
    for (const peer of this.#table.values()) if (peer.link !== null) count++;
    return count;
  }

  /** Makes `link` speak for `peer`. */
  bind(peer: PeerRecord, link: Link): void {
    peer.attach(link);
    link.attach(peer);
    peer.address = link.limits.address;
  }

  /** Detaches `link` from the peer it speaks for, if any. */
  unbind(link: Link): void {
    const peer = link.peer;
    if (peer !== null && peer.link === link) peer.attach(null);
    link.attach(null);
  }

  /** Detaches and closes a connection without touching its peer's other state. */
  dropLink(link: Link, code: number, reason: string): void {
    this.unbind(link);
    try {
      link.conn.close(code, reason);
    } catch {
      // Already closed: nothing to do but forget it.
    }
  }

  /** Runs `fn` with refusals unanswered (an op applied again after Redis lost it). */
  muted(fn: () => void): void {
    this.#muted++;
    try {
      fn();
    } finally {
      this.#muted--;
    }
  }

  /** Tells a peer connected here that its request was refused. */
  error(peer: PeerRecord, code: ErrorCode, message: string, event?: string): void {
    if (peer.home !== this.self || this.#muted > 0) return; // its own instance tells it
    this.#metrics.errors[code]++;
    this.#logger.log("debug", "refused", { peer: peer.id, code });
    this.send(peer, {
      event: "error",
      data: event === undefined ? { code, message } : { code, message, event },
    });
  }

  /**
   * How room changes reach a peer, by id. In a cluster every instance
   * applies every change: each sends only to the peers connected to it.
   */
  deliver(peerId: string, message: ServerMessage | string): void {
    const target = this.#table.get(peerId);
    if (target !== undefined) this.send(target, message);
  }

  /** Sends a frame, or its text already written; held while the peer is away. */
  send(peer: PeerRecord, message: ServerMessage | string): void {
    if (peer.home !== this.self) return;
    const text = typeof message === "string" ? message : encode(message);
    // No connection: away (held for its return) or being removed (dropped).
    if (peer.link === null) return this.#resume.hold(peer.id, text);
    this.write(peer, text);
  }

  /** Writes to the peer's socket: the single seam every frame out passes. */
  write(peer: PeerRecord, text: string): void {
    const link = peer.link;
    if (link === null) return;
    if (link.conn.bufferedAmount > this.#maxBuffered) {
      this.#logger.log("warn", "closing slow consumer", { peer: peer.id });
      this.#onSlow(peer);
      return;
    }
    try {
      link.conn.send(text);
    } catch (error) {
      // The socket died under us; its close event will clean up.
      this.#logger.log("debug", "send failed", { peer: peer.id, error: String(error) });
    }
  }
}
