/**
 * The signaling hub: a thin facade that wires the modules below and
 * answers the server's questions. Transport-agnostic — it sees only
 * {@linkcode Connection} — and `Session.receive()` never throws, because
 * Deno ends the process on an exception inside a WebSocket event handler.
 *
 * The path of a frame: `link.ts` (a connection and the identity it speaks
 * for) → `dispatch.ts` (budgets, size, parse, the backlog behind an async
 * step in `steps.ts`) → a flow: `join_flow.ts` (joins, knocks, passwords),
 * `resume_flow.ts` (resume), `relay.ts` (candidates and descriptions) →
 * `replica.ts`, the only writer of room state: every change is an op
 * (`cluster.ts`) applied in one order, alone from a local queue, in a
 * cluster from the shared log; it applies them through `membership.ts`
 * (who may join, and the addPeer/removePeer a change sends, with
 * `authority.ts`'s room policy) and `departures.ts` (how a peer ends).
 * `resync.ts` hands the rooms to another instance and takes them;
 * `peers.ts` holds the identities and writes every frame out;
 * `relay_grants.ts` issues TURN credentials; `doors.ts` answers door
 * questions and tells their askers, after each op, of a door that changed.
 * See docs/protocol.md.
 *
 * @module
 */

import type { RoomSnapshot } from "./authority.ts";
import type { HubOptions } from "./hub_options.ts";
import {
  type CloseInfo,
  type Connection,
  Link,
  type LinkEvents,
  PeerRecord,
  type Session,
} from "./link.ts";
import type { Metrics } from "./metrics.ts";
import { Registry } from "./registry.ts";
import { CLOSE_CODES } from "./wire.ts";
import { wire, type Wired } from "./wiring.ts";

export type { HubOptions } from "./hub_options.ts";
export type { CloseInfo, Connection, Session };

/** The in-memory signaling hub. */
export class Hub {
  /** Counters for `/metrics`. */
  readonly metrics: Metrics;
  /** Channel membership data (read by tests and `/healthz`). */
  readonly registry: Registry = new Registry();
  readonly #w: Wired;
  /** Created once and shared by every link: nothing is allocated per frame. */
  readonly #linkEvents: LinkEvents;

  /** A hub with `options`, each defaulting as {@linkcode HubOptions} says. */
  constructor(options: HubOptions = {}) {
    this.#w = wire(options, this.registry, (peerId, error) => this.#logError(peerId, error));
    this.metrics = this.#w.metrics;
    const dispatch = this.#w.dispatch;
    this.#linkEvents = {
      frame: (link, data) => dispatch.frame(link, data),
      closed: (link, deliberate) => dispatch.closed(link, deliberate),
      failed: (peerId, error) => this.#logError(peerId, error),
    };
  }

  /**
   * Whether the cluster is reachable (always, alone), and if not, why —
   * `/healthz` says `degraded` then.
   */
  get health(): { ok: boolean; instance?: string; problem?: string } {
    if (this.#w.bus === undefined) return { ok: true };
    const { problem } = this.#w.bus;
    const instance = this.#w.peers.self;
    return problem === undefined ? { ok: true, instance } : { ok: false, instance, problem };
  }

  /** Bumped whenever the retired set changes, so a saver knows when to write. */
  get retiredVersion(): number {
    return this.#w.resume.retiredVersion;
  }

  /** Ids that left on purpose and until when their tokens are refused. */
  retiredEntries(): [string, number][] {
    return this.#w.resume.retiredEntries();
  }

  /** Bumped whenever a room's authority changes, so a saver knows when to write. */
  get roomsVersion(): number {
    return this.#w.authority.version;
  }

  /** Every room's authority (hosts, lock, knocks, password hash), for saving. */
  roomsSnapshot(): RoomSnapshot[] {
    return this.#w.authority.snapshot();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#w.peers.connectionCount;
  }

  /** Peers held away, waiting for their client to resume. */
  get awayCount(): number {
    return this.#w.resume.awayCount;
  }

  /** Non-empty channels. */
  get channelCount(): number {
    return this.registry.channelCount;
  }

  /**
   * Registers a new connection and sends it `welcome`. `address` is the
   * client's address, for the budgets shared by its connections.
   */
  connect(conn: Connection, { address = "" }: { address?: string } = {}): Session {
    const now = this.#w.now();
    const peers = this.#w.peers;
    const link = new Link(conn, now, this.#w.limits.connect(address, now), this.#linkEvents);
    let id = this.#w.newId();
    while (peers.has(id) || this.#w.resume.isRetired(id)) id = this.#w.newId();
    const peer = new PeerRecord(id, peers.self);
    peers.bind(peer, link);
    peers.add(peer);
    this.metrics.connectionsTotal++;
    this.#w.logger.log("debug", "connect", { peer: id });
    // Written as `encode` would write it, from the parts every welcome shares
    // (once per connection, so once per join in a storm). No credentials
    // before joining: a knocker or a scanner gets no relay.
    const resume = this.#w.resume.enabled
      ? `,"resume_token":"${
        this.#w.resume.issue(id, now)
      }","resume_window":${this.#w.resume.windowSeconds}`
      : "";
    peers.write(
      peer,
      `{"event":"welcome","data":{"peer_id":${JSON.stringify(id)}${this.#w.welcomeRest}${resume}}}`,
    );
    return link;
  }

  /**
   * Housekeeping, called about once a second: removes away peers whose
   * window has passed and connections that never joined, refreshes resume
   * tokens at half-life and TURN credentials before expiry, sweeps restored
   * rooms, and forgets expired budgets and retirements.
   */
  tick(): void {
    const now = this.#w.now();
    this.#w.departures.tick(now);
    // Connected peers' resume tokens at half-life, and their TURN credentials.
    const { peers, resume, relays } = this.#w;
    for (const peer of peers.list()) {
      if (peer.link === null || !peers.holds(peer)) continue;
      if (resume.refreshDue(peer.id, now)) {
        peers.send(peer, { event: "session", data: { resume_token: resume.issue(peer.id, now) } });
      }
      relays.tick(peer.id, now);
    }
    this.#w.replica.tick(now);
    this.#w.resume.sweep(now);
    this.#w.limits.sweep(now);
    this.#w.joins.tick(now);
  }

  /** Closes every connection with 1001 (server going away). */
  shutdown(): void {
    for (const peer of this.#w.peers.list()) {
      const link = peer.link;
      if (link !== null) {
        this.#w.peers.dropLink(link, CLOSE_CODES.goingAway, "server shutting down");
      }
      this.registry.leaveAll(peer.id);
      this.#w.resume.forget(peer.id);
    }
    this.#w.peers.clear();
  }

  #logError(peerId: string, error: unknown): void {
    this.#w.logger.log("error", "handler failed", {
      peer: peerId,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }
}
