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
 * `relay_grants.ts` issues TURN credentials. See docs/protocol.md.
 *
 * @module
 */

import { Authority, parseRoomSnapshots, type RoomSnapshot } from "./authority.ts";
import type { Bus, Op } from "./cluster.ts";
import { DEFAULTS } from "./config.ts";
import { Departures } from "./departures.ts";
import { Dispatch } from "./dispatch.ts";
import type { HubOptions } from "./hub_options.ts";
import { JoinFlow } from "./join_flow.ts";
import { type CloseInfo, type Connection, Link, PeerRecord, type Session } from "./link.ts";
import type { Logger } from "./log.ts";
import { SILENT_LOGGER } from "./log.ts";
import { Membership } from "./membership.ts";
import { Metrics } from "./metrics.ts";
import { HashQueue } from "./password.ts";
import { Peers } from "./peers.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";
import { RateLimiter } from "./rate_limit.ts";
import { Registry } from "./registry.ts";
import { Relay } from "./relay.ts";
import { RelayGrants } from "./relay_grants.ts";
import { Replica } from "./replica.ts";
import { Resume } from "./resume.ts";
import { ResumeFlow } from "./resume_flow.ts";
import { Resync } from "./resync.ts";
import { Steps } from "./steps.ts";
import { IceIssuer } from "./turn.ts";
import { CLOSE_CODES } from "./wire.ts";

export type { HubOptions } from "./hub_options.ts";
export type { CloseInfo, Connection, Session };

/** The in-memory signaling hub. */
export class Hub {
  /** Counters for `/metrics`. */
  readonly metrics: Metrics;
  /** Channel membership data (read by tests and `/healthz`). */
  readonly registry: Registry = new Registry();
  readonly #peers: Peers;
  readonly #limits: RateLimiter;
  readonly #resume: Resume;
  readonly #authority: Authority;
  readonly #departures: Departures;
  readonly #replica: Replica;
  readonly #joins: JoinFlow;
  readonly #resumes: ResumeFlow;
  readonly #dispatch: Dispatch;
  readonly #bus: Bus | undefined;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #logger: Logger;
  /** What follows the peer id in every `welcome`. */
  readonly #welcomeRest: string;

  /** A hub with `options`, each defaulting as {@linkcode HubOptions} says. */
  constructor(options: HubOptions = {}) {
    const now = this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    const logger = this.#logger = options.logger ?? SILENT_LOGGER;
    const metrics = this.metrics = options.metrics ?? new Metrics();
    const windowMs = options.resumeWindowMs ?? DEFAULTS.resumeWindowSeconds * 1000;
    const registry = this.registry;
    const limits = this.#limits = new RateLimiter(options);
    const resume = this.#resume = new Resume({ ...options, logger });
    const authority = this.#authority = new Authority({
      maxKnocksPerRoom: options.maxKnocksPerRoom,
      restored: options.rooms,
      restoreGraceMs: options.resumeWindowMs,
      now,
    });
    const failed = (error: unknown) => this.#logError("", error);
    const bus: Bus | undefined = this.#bus = options.bus?.({
      apply: (op) => replica.applyGuarded(op),
      deliver: (peerId, text) => guarded(() => relay.arrived(peerId, text), failed),
      exportState: () => resync.exportState(),
      importState: (state) => resync.importState(state),
      restore: ({ rooms, retired }) => {
        authority.restore(parseRoomSnapshots(rooms));
        resume.addRetired(retired);
      },
      homes: () => {
        const homes = new Set<string>();
        for (const peer of peers.values()) if (!peer.orphan) homes.add(peer.home);
        return homes;
      },
      reassert: () => guarded(() => replica.reassert(), failed),
    });
    const peers: Peers = this.#peers = new Peers({
      self: bus?.instance ?? "",
      registry,
      resume,
      metrics,
      logger,
      maxBuffered: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      onSlow: (peer) => departures.kick(peer, CLOSE_CODES.tryAgainLater, "slow consumer"),
    });
    const ice = new IceIssuer(options.iceServers ?? [], { turn: options.turn, now: options.now });
    const relays = new RelayGrants(ice, {
      policy: options.iceTransportPolicy ?? "all",
      now,
      spend: (peerId) => {
        const peer = peers.get(peerId);
        if (!peers.isMine(peer)) return undefined;
        return peer.link?.limits.takeTurnCredential(now());
      },
      company: (peerId) => peers.hasCompany(peerId),
      send: (peerId, config) => peers.deliver(peerId, { event: "iceServers", data: config }),
      logger,
    });
    const membership = new Membership(registry, {
      ...options,
      authority,
      logger,
      deliver: (peerId, message) => peers.deliver(peerId, message),
      refuse: (peerId, { code, message, event }) => {
        const peer = peers.get(peerId);
        if (peer !== undefined) peers.error(peer, code, message, event);
      },
      holds: (peerId) => peers.has(peerId),
      joinedExtras: (peerId, company) =>
        peers.isMine(peers.get(peerId)) ? relays.forJoined(peerId, company) : {},
      // The members already there may need a relay now.
      met: (_peerId, others) => {
        for (const id of others) if (peers.isMine(peers.get(id))) relays.needed(id);
      },
    });
    // What most modules share; each takes what it needs of it.
    const shared = {
      peers,
      registry,
      authority,
      membership,
      resume,
      relays,
      metrics,
      logger,
      now,
    };
    const clustered = bus !== undefined;
    const propose = (op: Op) => replica.propose(op);
    const departures: Departures = this.#departures = new Departures({
      ...shared,
      limits,
      clustered,
      propose,
      windowMs,
      joinTimeoutMs: options.joinTimeoutMs ?? DEFAULTS.joinTimeoutSeconds * 1000,
    });
    const replica: Replica = this.#replica = new Replica({
      ...shared,
      departures,
      bus,
      passwordNeeded: ({ link, peer, request }, record) =>
        joins.checkPassword(link, peer, request, record),
      resumed: (op, waiting) => resumes.resumed(op, waiting),
      failed,
    });
    const steps = new Steps({
      holds: (peer) => peers.holds(peer),
      dispatch: (link, peer, message) => this.#dispatch.dispatch(link, peer, message),
      failed: (peerId, error) => this.#logError(peerId, error),
    });
    const passwords = options.passwords ?? new HashQueue({
      concurrency: options.passwordHashConcurrency,
      maxQueued: options.passwordHashQueue,
    });
    const alertEveryMs = options.passwordTryWindowMs ?? DEFAULTS.passwordTryWindowSeconds * 1000;
    const joins: JoinFlow = this.#joins = new JoinFlow({
      ...shared,
      steps,
      replica,
      passwords,
      alertEveryMs,
    });
    const flow = { ...shared, replica, departures, steps, bus };
    const resumes: ResumeFlow = this.#resumes = new ResumeFlow(flow);
    const relay: Relay = new Relay(flow);
    const resync: Resync = new Resync(flow);
    const maxBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    this.#dispatch = new Dispatch({ ...flow, joins, resumes, relay, clustered, maxBytes });
    this.#welcomeRest = `,"protocol":${PROTOCOL_VERSION},"ice_servers":${
      JSON.stringify(ice.public)
    }`;
  }

  /** Created once and shared by every link: nothing is allocated per frame. */
  readonly #linkEvents = {
    frame: (link: Link, data: unknown) => this.#dispatch.frame(link, data),
    closed: (link: Link, deliberate: boolean) => this.#dispatch.closed(link, deliberate),
    failed: (peerId: string, error: unknown) => this.#logError(peerId, error),
  };

  /**
   * Whether the cluster is reachable (always, alone), and if not, why —
   * `/healthz` says `degraded` then.
   */
  get health(): { ok: boolean; instance?: string; problem?: string } {
    if (this.#bus === undefined) return { ok: true };
    const { problem } = this.#bus;
    const instance = this.#peers.self;
    return problem === undefined ? { ok: true, instance } : { ok: false, instance, problem };
  }

  /** Bumped whenever the retired set changes, so a saver knows when to write. */
  get retiredVersion(): number {
    return this.#resume.retiredVersion;
  }

  /** Ids that left on purpose and until when their tokens are refused. */
  retiredEntries(): [string, number][] {
    return this.#resume.retiredEntries();
  }

  /** Bumped whenever a room's authority changes, so a saver knows when to write. */
  get roomsVersion(): number {
    return this.#authority.version;
  }

  /** Every room's authority (hosts, lock, knocks, password hash), for saving. */
  roomsSnapshot(): RoomSnapshot[] {
    return this.#authority.snapshot();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#peers.connectionCount;
  }

  /** Peers held away, waiting for their client to resume. */
  get awayCount(): number {
    return this.#resume.awayCount;
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
    const now = this.#now();
    const peers = this.#peers;
    const link = new Link(conn, now, this.#limits.connect(address, now), this.#linkEvents);
    let id = this.#newId();
    while (peers.has(id) || this.#resume.isRetired(id)) id = this.#newId();
    const peer = new PeerRecord(id, peers.self);
    peers.bind(peer, link);
    peers.add(peer);
    this.metrics.connectionsTotal++;
    this.#logger.log("debug", "connect", { peer: id });
    // Written as `encode` would write it, from the parts every welcome shares
    // (once per connection, so once per join in a storm). No credentials
    // before joining: a knocker or a scanner gets no relay.
    const resume = this.#resume.enabled
      ? `,"resume_token":"${
        this.#resume.issue(id, now)
      }","resume_window":${this.#resume.windowSeconds}`
      : "";
    peers.write(
      peer,
      `{"event":"welcome","data":{"peer_id":${JSON.stringify(id)}${this.#welcomeRest}${resume}}}`,
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
    const now = this.#now();
    this.#departures.tick(now);
    this.#resumes.tick(now);
    this.#replica.tick(now);
    this.#resume.sweep(now);
    this.#limits.sweep(now);
    this.#joins.tick(now);
  }

  /** Closes every connection with 1001 (server going away). */
  shutdown(): void {
    for (const peer of this.#peers.list()) {
      const link = peer.link;
      if (link !== null) this.#peers.dropLink(link, CLOSE_CODES.goingAway, "server shutting down");
      this.registry.leaveAll(peer.id);
      this.#resume.forget(peer.id);
    }
    this.#peers.clear();
  }

  #logError(peerId: string, error: unknown): void {
    this.#logger.log("error", "handler failed", {
      peer: peerId,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }
}

/** Runs a bus callback; like a frame handler it never throws. */
function guarded(fn: () => void, failed: (error: unknown) => void): void {
  try {
    fn();
  } catch (error) {
    failed(error);
  }
}
