/**
 * The signaling hub: turns client frames into registry changes and frames
 * for other peers. Transport-agnostic — it sees only {@linkcode Connection}
 * — and `Session.receive()` never throws, because Deno ends the process on
 * an exception inside a WebSocket event handler.
 *
 * The hub owns peers and their connections and routes each frame; the
 * rules live beside it: `rate_limit.ts` (frame, join and password-try
 * budgets), `membership.ts` (who may join, and the addPeer/removePeer a
 * join or part sends, with `authority.ts`'s room policy: hosts, lock,
 * knocks, password, removal) and `resume.ts` (tokens, away peers and their
 * held frames, retired ids), `relay_grants.ts` (TURN credentials) and
 * `link.ts` (a connection and the identity it speaks for). Two seams: every
 * admission to a room passes `Membership#admit`, every message to a peer id
 * passes `Hub#deliver`.
 *
 * Room state changes only by ops (`cluster.ts`), applied by `#apply` in
 * one order: alone from a local queue drained before the frame handler
 * returns (an op proposed while one applies — a slow consumer's kick —
 * waits until that one is done), in a cluster from the shared log.
 * Password hashes and budgets counted in Redis are async: a connection's
 * later frames wait in order behind them. See docs/protocol.md.
 *
 * @module
 */

import { Authority, type Knock, parseRoomSnapshots, type RoomSnapshot } from "./authority.ts";
import type { Bus, BusHandlers, ClusterState, Op } from "./cluster.ts";
import { DEFAULTS } from "./config.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import { type JoinOptions, Membership, type RoomLimits } from "./membership.ts";
import { Metrics } from "./metrics.ts";
import { HashQueue, type PasswordHashing, type PasswordRecord } from "./password.ts";
import {
  type ClientMessage,
  encode,
  encodeAddPeer,
  type ErrorCode,
  type IceServer,
  type JoinRequest,
  type KnockRequest,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ResumeChannel,
  type ServerMessage,
  utf8Length,
} from "./protocol.ts";
import {
  allOf,
  type PasswordTry,
  RateLimiter,
  type RateLimitOptions,
  type Verdict,
} from "./rate_limit.ts";
import { Registry } from "./registry.ts";
import { Resume, type ResumeOptions } from "./resume.ts";
import { CLOSE_CODES } from "./wire.ts";
import {
  type CloseInfo,
  type Connection,
  Link,
  type LinkEvents,
  PeerRecord,
  type Session,
} from "./link.ts";
import { RelayGrants } from "./relay_grants.ts";
import { IceIssuer, type IceTransportPolicy, type TurnSettings } from "./turn.ts";

/** Limits and collaborators of a {@linkcode Hub}; every field has a default. */
export interface HubOptions extends RateLimitOptions, ResumeOptions, RoomLimits {
  /**
   * ICE servers (`ICE_SERVERS`). `welcome` carries those without
   * credentials; `joined` carries them all. Default `[]`.
   */
  iceServers?: IceServer[];
  /** TURN REST API settings: each member gets its own expiring credential. */
  turn?: TurnSettings;
  /** Passed to members with their servers. Default `all`. */
  iceTransportPolicy?: IceTransportPolicy;
  /** Largest accepted frame in bytes. Default 65,536. */
  maxMessageBytes?: number;
  /** Bytes queued to a socket before it is closed as a slow consumer. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * How long a connection may stay without joining or resuming before it
   * is closed with 1008, ms: a socket that never takes part only holds
   * memory. Default 15,000 (clients join right after `welcome`).
   */
  joinTimeoutMs?: number;
  /** Wall clock in ms since the epoch (tokens outlive the process). Default `Date.now`. */
  now?: () => number;
  /** Source of peer ids. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Default: writes nothing. */
  logger?: Logger;
  /** Default: a fresh {@linkcode Metrics}. */
  metrics?: Metrics;
  /** Rooms' authority saved before a restart (`saved_rooms.ts`); kept a resume window. */
  rooms?: RoomSnapshot[];
  /** Pending knocks one room holds. Default 50. */
  maxKnocksPerRoom?: number;
  /**
   * Hashes and checks room passwords. Default: a {@linkcode HashQueue} of
   * `passwordHashConcurrency` (1) at a time and `passwordHashQueue` (8) waiting.
   */
  passwords?: PasswordHashing;
  /** Password hashes run at once (with the default `passwords`). Default 1. */
  passwordHashConcurrency?: number;
  /** Password hashes waiting (with the default `passwords`). Default 8. */
  passwordHashQueue?: number;
  /**
   * Shares rooms with other instances (`cluster.ts`): called once with the
   * hub's handlers. Default none: this hub is the whole service.
   */
  bus?: (handlers: BusHandlers) => Bus;
}

export type { CloseInfo, Connection, Session };

/** How long an op this instance proposed may take to come back before it is proposed again, ms. */
const RETRY_OP_MS = 10_000;

/** The in-memory signaling hub. */
export class Hub {
  /** Counters for `/metrics`. */
  readonly metrics: Metrics;
  /** Channel membership data (read by tests and `/healthz`). */
  readonly registry: Registry = new Registry();
  #peers = new Map<string, PeerRecord>();
  readonly #ice: IceIssuer;
  readonly #relays: RelayGrants;
  readonly #maxBytes: number;
  readonly #maxBuffered: number;
  readonly #joinTimeoutMs: number;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #logger: Logger;
  readonly #limits: RateLimiter;
  /** Above 0 while a replayed op applies: its refusals are not answered. */
  #muted = 0;
  /** When a sweep of restored rooms was proposed last (until it comes back). */
  #sweepProposedAt = -Infinity;
  /** Alone: ops proposed and not applied yet, in order, and whether some are being applied. */
  #queued: Op[] = [];
  #applying = false;
  readonly #passwords: PasswordHashing;
  /** When each room's hosts were last warned of wrong passwords, ms. */
  readonly #alerted = new Map<string, number>();
  readonly #alertEveryMs: number;
  readonly #resume: Resume;
  readonly #membership: Membership;
  readonly #authority: Authority;
  readonly #bus: Bus | undefined;
  /** This instance's id in the cluster ("" alone): the home of its own peers. */
  readonly #self: string;
  /** What this instance does once its own op comes back applied, by op `ref`. */
  readonly #waiting = new Map<number, Waiting>();
  #nextRef = 1;
  /** Peers whose home died, and when to propose their leave. */
  readonly #orphans = new Map<string, number>();
  readonly #windowMs: number;
  /** What follows the peer id in every `welcome`. */
  readonly #welcomeRest: string;
  /** Created once and shared by every link: nothing is allocated per frame. */
  readonly #linkEvents: LinkEvents = {
    frame: (link, data) => this.#handle(link, data),
    closed: (link, deliberate) => this.#linkClosed(link, deliberate),
    failed: (peerId, error) => this.#logError(peerId, error),
  };

  /** A hub with `options`, each defaulting as {@linkcode HubOptions} says. */
  constructor(options: HubOptions = {}) {
    this.#ice = new IceIssuer(options.iceServers ?? [], { turn: options.turn, now: options.now });
    this.#relays = new RelayGrants(this.#ice, {
      policy: options.iceTransportPolicy ?? "all",
      now: () => this.#now(),
      spend: (peerId) => {
        const peer = this.#peers.get(peerId);
        if (peer?.home !== this.#self) return undefined;
        return peer.link?.limits.takeTurnCredential(this.#now());
      },
      company: (peerId) => this.#hasCompany(peerId),
      send: (peerId, config) => {
        const peer = this.#peers.get(peerId);
        if (peer !== undefined) this.#send(peer, { event: "iceServers", data: config });
      },
      logger: options.logger,
    });
    this.#maxBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    this.#maxBuffered = options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes;
    this.#joinTimeoutMs = options.joinTimeoutMs ?? DEFAULTS.joinTimeoutSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.metrics = options.metrics ?? new Metrics();
    this.#limits = new RateLimiter(options);
    this.#passwords = options.passwords ?? new HashQueue({
      concurrency: options.passwordHashConcurrency,
      maxQueued: options.passwordHashQueue,
    });
    this.#alertEveryMs = options.passwordTryWindowMs ??
      DEFAULTS.passwordTryWindowSeconds * 1000;
    this.#resume = new Resume({ ...options, logger: this.#logger });
    this.#authority = new Authority({
      maxKnocksPerRoom: options.maxKnocksPerRoom,
      restored: options.rooms,
      restoreGraceMs: options.resumeWindowMs,
      now: this.#now,
    });
    this.#membership = new Membership(this.registry, {
      ...options,
      authority: this.#authority,
      logger: this.#logger,
      deliver: (peerId, message) => this.#deliver(peerId, message),
      refuse: (peerId, { code, message, event }) => {
        const peer = this.#peers.get(peerId);
        if (peer !== undefined) this.#error(peer, code, message, event);
      },
      holds: (peerId) => this.#peers.has(peerId),
      joinedExtras: (peerId, company) =>
        this.#peers.get(peerId)?.home === this.#self ? this.#relays.forJoined(peerId, company) : {},
      // The members already there may need a relay now.
      met: (_peerId, others) => {
        for (const id of others) {
          if (this.#peers.get(id)?.home === this.#self) this.#relays.needed(id);
        }
      },
    });
    this.#windowMs = options.resumeWindowMs ?? DEFAULTS.resumeWindowSeconds * 1000;
    this.#bus = options.bus?.({
      apply: (op) => this.#guarded(() => this.#apply(op)),
      deliver: (peerId, text) => this.#guarded(() => this.#arrived(peerId, text)),
      exportState: () => this.#exportState(),
      importState: (state) => this.#importState(state),
      restore: ({ rooms, retired }) => {
        this.#authority.restore(parseRoomSnapshots(rooms));
        this.#resume.addRetired(retired);
      },
      homes: () => {
        const homes = new Set<string>();
        for (const peer of this.#peers.values()) if (!peer.orphan) homes.add(peer.home);
        return homes;
      },
      reassert: () => this.#guarded(() => this.#reassert()),
    });
    this.#self = this.#bus?.instance ?? "";
    this.#welcomeRest = `,"protocol":${PROTOCOL_VERSION},"ice_servers":${
      JSON.stringify(this.#ice.public)
    }`;
  }

  /**
   * Whether the cluster is reachable (always, alone), and if not, why —
   * `/healthz` says `degraded` then.
   */
  get health(): { ok: boolean; instance?: string; problem?: string } {
    if (this.#bus === undefined) return { ok: true };
    const problem = this.#bus.problem;
    return problem === undefined
      ? { ok: true, instance: this.#self }
      : { ok: false, instance: this.#self, problem };
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
    let count = 0;
    for (const peer of this.#peers.values()) if (peer.link !== null) count++;
    return count;
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
    const link = new Link(conn, now, this.#limits.connect(address, now), this.#linkEvents);
    let id = this.#newId();
    while (this.#peers.has(id) || this.#resume.isRetired(id)) id = this.#newId();
    const peer = new PeerRecord(id, this.#self);
    this.#bind(peer, link);
    this.#peers.set(id, peer);
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
    this.#write(
      peer,
      `{"event":"welcome","data":{"peer_id":${JSON.stringify(id)}${this.#welcomeRest}${resume}}}`,
    );
    return link;
  }

  /**
   * Housekeeping, called about once a second: removes away peers whose
   * window has passed, closes connections that never joined, refreshes
   * resume tokens at half-life, and forgets expired budgets and retirements.
   */
  tick(): void {
    const now = this.#now();
    for (const peer of [...this.#peers.values()]) {
      const link = peer.link;
      if (this.#resume.windowPassed(peer.id, now)) {
        this.#logger.log("debug", "resume window passed", { peer: peer.id });
        this.#remove(peer);
      } else if (
        link !== null && now - link.openedAt >= this.#joinTimeoutMs &&
        this.registry.channelsOf(peer.id).size === 0 && !link.spoken
      ) {
        this.#logger.log("debug", "closing a connection that never joined", { peer: peer.id });
        this.#kick(peer, CLOSE_CODES.policyViolation, "join or resume within the timeout");
      } else if (link !== null) {
        if (this.#resume.refreshDue(peer.id, now)) {
          this.#send(peer, {
            event: "session",
            data: { resume_token: this.#resume.issue(peer.id, now) },
          });
        }
        this.#relays.tick(peer.id, now);
      }
    }
    for (const [id, deadline] of this.#orphans) {
      const peer = this.#peers.get(id);
      if (peer === undefined || !peer.orphan) {
        this.#orphans.delete(id);
      } else if (now >= deadline) {
        // Every instance proposes it; the first applied wins, the rest find nobody.
        this.#logger.log("debug", "resume window passed (home died)", { peer: id });
        this.#orphans.set(id, now + this.#windowMs);
        this.#bus?.propose({ op: "leave", peer: id, home: peer.home, generation: peer.generation });
      }
    }
    // Restored rooms stop waiting for their members by an op, so every
    // instance does it at the same point in the order.
    // Proposed again if it never came back (an append Redis refused).
    if (now - this.#sweepProposedAt >= RETRY_OP_MS && this.#authority.sweepDue(now)) {
      this.#sweepProposedAt = now;
      this.#propose({ op: "sweep", at: now });
    }
    this.#resume.sweep(now);
    this.#limits.sweep(now);
    for (const [channel, at] of this.#alerted) {
      if (now - at >= this.#alertEveryMs) this.#alerted.delete(channel);
    }
  }

  /** Closes every connection with 1001 (server going away). */
  shutdown(): void {
    for (const peer of [...this.#peers.values()]) {
      const link = peer.link;
      if (link !== null) this.#dropLink(link, CLOSE_CODES.goingAway, "server shutting down");
      this.registry.leaveAll(peer.id);
      this.#resume.forget(peer.id);
    }
    this.#peers.clear();
  }

  /** Frame dispatch; `Link.receive` calls it through {@linkcode LinkEvents}. */
  #handle(link: Link, data: unknown): void {
    const peer = link.peer;
    if (peer === null) return;
    this.metrics.messagesReceived++;
    // Rate limit first: a flood must cost as little as possible.
    const verdict = link.limits.takeFrame(this.#now());
    if (verdict !== "accept") {
      if (verdict === "abusive") {
        this.#logger.log("warn", "closing abusive connection", { peer: peer.id });
        this.#kick(peer, CLOSE_CODES.policyViolation, "rate limit exceeded");
        return;
      }
      this.#error(peer, "rate_limited", "Slow down: too many messages");
      return;
    }
    if (typeof data !== "string") {
      this.#error(peer, "bad_message", "Cannot parse frame: binary frames are not accepted");
      return;
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: only frames near the
    // limit are measured exactly (the regex showed up in profiles).
    if (
      data.length > this.#maxBytes ||
      (data.length * 3 > this.#maxBytes && utf8Length(data) > this.#maxBytes)
    ) {
      this.#error(
        peer,
        "message_too_large",
        `Cannot handle frame: larger than ${this.#maxBytes} bytes`,
      );
      return;
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) {
      this.#error(peer, parsed.code, parsed.message, parsed.event);
      return;
    }
    if (link.busy) {
      // Behind a password hash: handled in order once it is done.
      if (!link.queue(parsed.value)) {
        this.#error(peer, "rate_limited", "Slow down: still handling an earlier request");
      }
      return;
    }
    this.#dispatch(link, peer, parsed.value);
  }

  /** The transport closed: a deliberate close leaves, an abnormal one goes away. */
  #linkClosed(link: Link, deliberate: boolean): void {
    const peer = link.peer;
    if (peer === null || peer.link !== link) return; // replaced or kicked
    this.#unbind(link);
    // A welcome identity given up for a resume still on its way: nothing to hold.
    if (!this.#holds(peer)) return;
    if (deliberate || !this.#resume.enabled) {
      this.#logger.log("debug", "disconnect", { peer: peer.id });
      this.#remove(peer);
      return;
    }
    if (!this.#resume.goAway(peer.id, this.#now())) {
      this.#remove(peer); // too many away already
      return;
    }
    this.#logger.log("debug", "away", { peer: peer.id });
    if (peer.shared || this.#bus === undefined) {
      this.#propose({ op: "away", peer: peer.id, home: peer.home, generation: peer.generation });
    }
  }

  /** Runs a bus callback; like a frame handler it never throws. */
  #guarded(fn: () => void) {
    try {
      fn();
    } catch (error) {
      this.#logError("", error);
    }
  }

  #logError(peerId: string, error: unknown): void {
    this.#logger.log("error", "handler failed", {
      peer: peerId,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }

  #dispatch(link: Link, peer: PeerRecord, message: ClientMessage): void {
    const first = link.speak();
    if (message.event === "resume" && !first) {
      return this.#error(
        peer,
        "bad_request",
        "Cannot resume: resume must be the first frame on a connection",
        "resume",
      );
    }
    switch (message.event) {
      case "join":
      case "knock":
        // A knock is a try at a room too: both spend the join budget.
        return this.#spend(link, link.limits.takeJoin(this.#now()), (granted) => {
          if (!granted) {
            return this.#error(
              peer,
              "rate_limited",
              `Cannot ${message.event}: too many join attempts; wait a minute`,
              message.event,
            );
          }
          if (!this.#reachable(peer, message.event)) return;
          if (message.event === "join") return this.#join(link, peer, message.data);
          this.#knock(link, peer, message.data);
        });
      case "lock":
        if (!this.#reachable(peer, message.event)) return;
        return this.#propose({ op: "lock", peer: peer.id, ...message.data });
      case "setPassword":
        if (!this.#reachable(peer, message.event)) return;
        return this.#setPassword(link, peer, message.data);
      case "makeHost":
      case "mute":
      case "admit":
      case "deny":
      case "remove": {
        if (!this.#reachable(peer, message.event)) return;
        const { channel, peer_id: target } = message.data;
        return this.#propose({ op: "host", peer: peer.id, event: message.event, channel, target });
      }
      case "part":
        if (!this.#reachable(peer, message.event)) return;
        return this.#propose({ op: "part", peer: peer.id, channel: message.data.channel });
      case "resume":
        return this.#resumeAs(link, peer, message.data);
      case "relayICECandidate":
      case "relaySessionDescription":
        return this.#relay(peer, message);
    }
  }

  /**
   * A join; into a room with a password, the password is hashed first (off
   * the event loop, the connection's later frames waiting) and the join
   * made again once it matched. Only wrong passwords spend the tries.
   */
  #join(link: Link, peer: PeerRecord, request: JoinRequest & { verified?: string }) {
    const ref = this.#nextRef++;
    this.#waiting.set(ref, { kind: "join", link, peer, request });
    peer.shared = true;
    const op: Extract<Op, { op: "join" }> = {
      op: "join",
      peer: peer.id,
      home: peer.home,
      ref,
      channel: request.channel,
      userdata: request.userdata,
      password: request.password !== undefined,
    };
    if (request.browser !== undefined) op.browser = request.browser;
    if (request.verified !== undefined) op.verified = request.verified;
    this.#propose(op);
  }

  /**
   * A knock, within the address's few knocks on that door and unless this
   * person, address or browser was turned away from it a moment ago.
   */
  #knock(link: Link, peer: PeerRecord, request: KnockRequest) {
    const { channel, browser } = request;
    const verdict = link.limits.takeKnock(channel, { peerId: peer.id, browser }, this.#now());
    this.#spend(link, verdict, (granted) => {
      if (!granted) {
        return this.#error(
          peer,
          "rate_limited",
          `Cannot knock on channel "${channel}": knocked too often or turned away just now; wait a few minutes`,
          "knock",
        );
      }
      if (!this.#reachable(peer, "knock")) return;
      peer.shared = true;
      this.#propose({ op: "knock", peer: peer.id, home: peer.home, ...request });
    });
  }

  /**
   * The join came back needing its password checked against `record`:
   * first the tries (the person's, the address's, the room's), then a hash
   * from the connection's budget and a place in the hashing queue.
   */
  #checkPassword(
    link: Link,
    peer: PeerRecord,
    { request, record }: { request: JoinRequest; record: PasswordRecord },
  ) {
    const { channel } = request;
    const limits = link.limits;
    this.#spend(link, limits.takePasswordTry(channel, this.#now()), (verdict: PasswordTry) => {
      if (verdict === "mine") {
        return this.#error(
          peer,
          "rate_limited",
          "Cannot join: too many wrong passwords; wait ten minutes",
          "join",
        );
      }
      if (verdict === "room") {
        this.#alertHosts(channel);
        return this.#error(
          peer,
          "rate_limited",
          `Cannot join channel "${channel}": many wrong passwords were tried for this room; wait a few minutes, or knock to ask a host`,
          "join",
        );
      }
      const start = () => this.#passwords.verify(request.password ?? "", record, limits.network);
      // Refused before any hash: the tries were not used.
      const unused = () => limits.returnPasswordTry(channel, this.#now());
      this.#hash(link, peer, { event: "join", start, unused }, (right) => {
        if (!right) {
          return this.#error(peer, "wrong_password", "Cannot join: wrong password", "join");
        }
        limits.returnPasswordTry(channel, this.#now());
        // The password may have changed meanwhile: then it is checked again.
        if (this.#reachable(peer, "join")) {
          this.#join(link, peer, { ...request, verified: record.salt });
        }
      });
    });
  }

  /**
   * Runs a hash for `event` within the connection's hash budget and the
   * server's hashing queue (one or two at a time: a crowd of hashes must
   * not take the event loop's core); `start` returns undefined when the
   * queue is full. The link's later frames wait for the result.
   */
  #hash<T>(
    link: Link,
    peer: PeerRecord,
    { event, start, unused }: {
      event: "join" | "setPassword";
      start: () => Promise<T> | undefined;
      /** Called when no hash was started (a budget or the queue refused). */
      unused?: () => void;
    },
    then: (value: T) => void,
  ) {
    const what = event === "join" ? "join" : "set a password";
    this.#spend(link, link.limits.takeHash(this.#now()), (granted) => {
      if (!granted) {
        unused?.();
        return this.#error(
          peer,
          "rate_limited",
          `Cannot ${what}: too many passwords checked for this connection; wait a minute`,
          event,
        );
      }
      const work = start();
      if (work === undefined) {
        // Nothing was hashed: the budgets get back what they gave.
        link.limits.returnHash(this.#now());
        unused?.();
        this.metrics.passwordHashesRefused++;
        return this.#error(
          peer,
          "rate_limited",
          `Cannot ${what}: the server is busy checking passwords; try again in a moment`,
          event,
        );
      }
      this.#after(link, work, then);
    });
  }

  /** A host sets (hashed off the event loop) or clears a room's password. */
  #setPassword(
    link: Link,
    peer: PeerRecord,
    { channel, password }: { channel: string; password: string | null },
  ) {
    if (!this.#membership.allowHost(peer.id, channel, "setPassword")) return;
    if (password === null) {
      return this.#propose({ op: "setPassword", peer: peer.id, channel, record: null });
    }
    this.#spend(link, link.limits.takeSetPassword(this.#now()), (granted) => {
      if (!granted) {
        return this.#error(
          peer,
          "rate_limited",
          "Cannot set a password: changed too often; wait a minute",
          "setPassword",
        );
      }
      const start = () => this.#passwords.hash(password, link.limits.network);
      const unused = () => link.limits.returnSetPassword(this.#now());
      this.#hash(link, peer, { event: "setPassword", start, unused }, (record) => {
        if (this.#reachable(peer, "setPassword")) {
          this.#propose({ op: "setPassword", peer: peer.id, channel, record });
        }
      });
    });
  }

  /**
   * The room's wrong-password budget ran out: its hosts hear it, once per
   * window (every instance's hosts, through the shared order).
   */
  #alertHosts(channel: string) {
    const now = this.#now();
    const last = this.#alerted.get(channel);
    if (last !== undefined && now - last < this.#alertEveryMs) return;
    this.#alerted.set(channel, now);
    this.#logger.log("warn", "many wrong passwords tried for a room", { channel });
    this.#propose({ op: "alert", channel, alert: "wrong_passwords" });
  }

  /**
   * Runs `then` with a budget's answer: at once when it is known here, or
   * (a budget counted in Redis) once it comes, the link's later frames
   * waiting meanwhile so that nothing overtakes the frame that asked.
   */
  #spend<T>(link: Link, verdict: Verdict<T>, then: (value: T) => void) {
    if (verdict instanceof Promise) this.#after(link, verdict, then);
    else then(verdict);
  }

  /**
   * Runs `then` once `work` settles, if the link still speaks for the same
   * peer; the link's frames that arrive meanwhile wait and are handled in
   * order after it, so nothing overtakes the frame that started the work.
   */
  #after<T>(link: Link, work: Promise<T>, then: (value: T) => void) {
    const peer = link.peer;
    link.wait();
    work.then((value) => {
      if (peer !== null && link.peer === peer && this.#holds(peer)) then(value);
    }).catch((error) => this.#logError(link.peerId, error)).finally(() => this.#drain(link));
  }

  /**
   * An async step of `link`'s ended (a password hash, a resume through the
   * shared order): handles the frames that waited behind it, in order, until
   * one starts another step or the link stops speaking for a peer (closed).
   */
  #drain(link: Link) {
    const waiting = link.done();
    for (let i = 0; i < waiting.length; i++) {
      const current = link.peer;
      if (current === null) return;
      this.#dispatch(link, current, waiting[i]);
      if (link.busy) return link.requeue(waiting.slice(i + 1));
    }
  }

  /**
   * A knock on `channel` was denied: its person, their address and their
   * browser wait to knock there again, connected now or away (the home
   * instance, which knows the address, records it).
   */
  #turnedAway(channel: string, { peerId, browser }: Knock) {
    const peer = this.#peers.get(peerId);
    if (peer === undefined || peer.home !== this.#self) return;
    this.#limits.denied(channel, { peerId, address: peer.address, browser }, this.#now());
  }

  /**
   * A host removed `targetId` from `channel`: it hears `removed`, its
   * socket closes with 4003 at once, and it leaves like a Leave (everyone
   * hears `removePeer`, its identity is retired: no resume).
   */
  #removeFromRoom(channel: string, targetId: string) {
    const target = this.#peers.get(targetId);
    if (target === undefined) return;
    this.#logger.log("debug", "removed by a host", { peer: targetId });
    this.#send(target, { event: "removed", data: { channel } });
    if (target.link !== null) {
      this.#dropLink(target.link, CLOSE_CODES.removed, "removed by a host");
    }
    this.#forget(target);
  }

  /**
   * A `resume`: the token is checked here, then the identity it proves is
   * taken over through the shared order (`#resumed` does the rest), the
   * connection's later frames waiting until then.
   */
  #resumeAs(
    link: Link,
    fresh: PeerRecord,
    { token, channels, browser }: Extract<ClientMessage, { event: "resume" }>["data"],
  ) {
    // Without a signer the claim below refuses first, saying resuming is off.
    if (this.#resume.enabled && this.registry.channelsOf(fresh.id).size > 0) {
      return this.#error(fresh, "bad_request", "Cannot resume after joining a channel", "resume");
    }
    const now = this.#now();
    const claim = this.#resume.claim(token, { now, current: fresh.id });
    if (!claim.ok) {
      return this.#error(
        fresh,
        "bad_token",
        `Cannot resume: ${claim.why}; continuing as a new peer`,
        "resume",
      );
    }
    // A token proves who, not where: a room this identity is not known to
    // have been in is a newcomer's join, and spends the join budget.
    const unknown = channels.filter(({ channel }) =>
      !this.registry.isMember(claim.peerId, channel) &&
      !this.#authority.knows(channel, claim.peerId)
    );
    const budgets = allOf(unknown.map(() => link.limits.takeJoin(now)));
    this.#spend(link, budgets, (granted) => {
      const refused = new Set(unknown.filter((_, i) => !granted[i]).map((c) => c.channel));
      for (const channel of refused) {
        this.#error(
          fresh,
          "rate_limited",
          `Cannot rejoin channel "${channel}": too many join attempts; wait a minute`,
          "resume",
        );
      }
      const rejoin = channels.filter(({ channel }) => !refused.has(channel));
      this.#claim(link, fresh, { peer: claim.peerId, channels: rejoin, browser });
    });
  }

  /** Takes over the identity a resume proved, through the shared order. */
  #claim(
    link: Link,
    fresh: PeerRecord,
    { peer, channels, browser }: { peer: string; channels: ResumeChannel[]; browser?: string },
  ) {
    if (this.#bus !== undefined && !this.#bus.available) {
      // The client resumes again after a pause, and the peer stays held meanwhile.
      this.#logger.log("debug", "resume refused: cluster unreachable", { peer: fresh.id });
      return this.#kick(fresh, CLOSE_CODES.tryAgainLater, "cluster unreachable; resume again");
    }
    // The identity from `welcome` is given up for the proven one.
    this.#peers.delete(fresh.id);
    this.#resume.forget(fresh.id);
    const ref = this.#nextRef++;
    this.#waiting.set(ref, { kind: "resume", link, fresh });
    link.wait();
    const op: Extract<Op, { op: "resume" }> = {
      op: "resume",
      peer,
      home: this.#self,
      ref,
      channels,
      generation: this.#peers.get(peer)?.generation ?? 0,
    };
    if (browser !== undefined) op.browser = browser;
    this.#propose(op);
  }

  /**
   * A resume applied: an away peer comes back, a connected one is replaced
   * (second tab) or moves to another instance, and an unknown one (this
   * hub restarted) is recreated and rejoins its channels. `waiting` is the
   * connection that resumed, when it is on this instance.
   */
  #resumed(op: Extract<Op, { op: "resume" }>, waiting: ResumeWaiting | undefined) {
    if (this.#resume.isRetired(op.peer)) {
      // It left (or was removed) before its resume came through.
      if (waiting !== undefined) this.#resumeRefused(waiting);
      return;
    }
    let peer = this.#peers.get(op.peer);
    if (peer !== undefined && this.#stale(peer, op)) {
      // A newer resume of this identity came through first (its proposer
      // then died, and this one arrived late): it changes nothing.
      if (waiting !== undefined) {
        this.#resumeRefused(waiting, "that peer resumed on another connection");
      }
      return;
    }
    const restored = peer === undefined;
    if (peer === undefined) {
      peer = new PeerRecord(op.peer, op.home);
      peer.generation = op.generation ?? 0;
      this.#peers.set(peer.id, peer);
    }
    peer.generation++;
    // Back: a leave proposed for it before is stale, and a later one must go out.
    peer.leaving = false;
    const wasAway = peer.away;
    if (peer.home === this.#self && op.home !== this.#self) {
      // It moved to another instance. What was held for it here is dropped:
      // sent on, it would arrive after what its new home tells it (newer),
      // and its new home gives it the rooms as they are now instead.
      if (peer.link !== null) {
        this.#dropLink(peer.link, CLOSE_CODES.replaced, "resumed elsewhere");
      }
      this.#resume.forget(peer.id);
      this.#relays.forget(peer.id);
    }
    // Its frames held while away were on the instance it left: lost if that one died.
    const moved = !restored && peer.home !== op.home;
    peer.home = op.home;
    peer.away = false;
    peer.orphan = false;
    peer.shared = true;
    peer.known = true;
    this.#orphans.delete(peer.id);
    const link = waiting?.link;
    if (link !== undefined && link.closed) {
      // Gone again before its resume came through: held away once more,
      // with the introductions a move owes it held for its next resume.
      if (this.#resume.goAway(peer.id, this.#now())) {
        if (moved) this.#reintroduce(peer, this.registry.neighboursOf(peer.id));
        this.#propose({ op: "away", peer: peer.id, home: peer.home, generation: peer.generation });
      } else this.#remove(peer);
    } else if (link !== undefined) {
      if (peer.link !== null) {
        this.#logger.log("debug", "replaced by another connection", { peer: peer.id });
        this.#dropLink(peer.link, CLOSE_CODES.replaced, "resumed elsewhere");
      }
      this.#bind(peer, link);
      const held = this.#resume.comeBack(peer.id);
      this.metrics.resumes++;
      this.#logger.log("debug", "resumed", { peer: peer.id, away: wasAway });
      const peers = this.registry.neighboursOf(peer.id);
      this.#send(peer, {
        event: "resumed",
        data: { peer_id: peer.id, channels: op.channels.map((c) => c.channel), restored, peers },
      });
      for (const text of held ?? []) {
        this.#write(peer, text);
        if (!this.#holds(peer)) return this.#drain(link); // kicked as a slow consumer
      }
      // Who came while it was away on another instance may never have been
      // introduced: everyone is, again (a known pair ignores it; they offer).
      if (moved) this.#reintroduce(peer, peers);
    }
    // After a restart the registry is empty: membership comes back from
    // the resuming clients. Known pairs keep their connections (clients
    // ignore a repeated addPeer), so roles never flip.
    // Rooms it is known to have been in take it back past a lock or a
    // password; anywhere else it meets them as any newcomer does.
    const joined = op.channels.filter((c) => this.registry.isMember(op.peer, c.channel));
    for (const { channel, userdata } of op.channels) {
      if (!joined.some((c) => c.channel === channel)) {
        const request: JoinOptions = { channel, userdata, quiet: true };
        if (op.browser !== undefined) request.browser = op.browser;
        this.#membership.join(op.peer, request);
      }
    }
    if (link !== undefined && !link.closed && this.#holds(peer)) {
      this.#send(peer, {
        event: "session",
        data: { resume_token: this.#resume.issue(peer.id, this.#now()) },
      });
      // The client keeps its ICE configuration across a resume: a credential
      // comes only if this instance knows of none it holds (it moved here,
      // or the server restarted) and it has someone to relay to.
      if (this.#holds(peer) && this.#hasCompany(peer.id)) this.#relays.needed(peer.id);
    }
    if (wasAway && this.#holds(peer)) {
      this.#membership.tellNeighbours(peer.id, { event: "peerBack", data: { peer_id: peer.id } });
    }
    if (link !== undefined) this.#drain(link);
  }

  /**
   * Sends `peer` an `addPeer` (the other offers) for each of `others` it
   * shares a room with, then each of its rooms' state (and a host its
   * pending knocks): what its old home held for it never comes.
   */
  #reintroduce(peer: PeerRecord, others: string[]) {
    for (const other of others) {
      const channel = [...this.registry.channelsOf(peer.id)].find((c) =>
        this.registry.isMember(other, c)
      );
      if (channel === undefined || !this.#holds(peer)) continue;
      const userdata = JSON.stringify(this.registry.userdataOf(other, channel) ?? {});
      this.#send(peer, encodeAddPeer(other, false, userdata));
    }
    for (const channel of this.registry.channelsOf(peer.id)) {
      const state = this.#authority.stateOf(channel);
      if (state !== undefined) this.#send(peer, { event: "roomState", data: state });
      if (this.#authority.isHost(channel, peer.id)) {
        this.#send(peer, {
          event: "knocks",
          data: { channel, knocks: this.#authority.knocksOf(channel) },
        });
      }
    }
  }

  /** The identity a resume claimed left (or resumed elsewhere) meanwhile: the connection goes on as new. */
  #resumeRefused({ link, fresh }: ResumeWaiting, why = "that peer has left") {
    this.#peers.set(fresh.id, fresh);
    this.#error(fresh, "bad_token", `Cannot resume: ${why}; continuing as a new peer`, "resume");
    this.#drain(link);
  }

  /**
   * Relays a candidate or a description, stamped with the sender, to a
   * peer it shares a channel with, wherever that peer's socket is. The hot
   * path: the frame is written as `encode` would write it, without building
   * the envelope objects (docs/performance.md).
   */
  #relay(
    peer: PeerRecord,
    message: Extract<ClientMessage, { event: "relayICECandidate" | "relaySessionDescription" }>,
  ) {
    const { event, data } = message;
    const to = this.registry.shareChannel(peer.id, data.peer_id)
      ? this.#peers.get(data.peer_id)
      : undefined;
    if (to === undefined) {
      return this.#error(
        peer,
        "unknown_peer",
        `Cannot relay to peer "${data.peer_id.slice(0, 64)}": not in a channel with you`,
        event,
      );
    }
    this.metrics.messagesRelayed++;
    const text = "ice_candidate" in data
      ? `{"event":"iceCandidate","data":{"peer_id":${peer.quoted},"ice_candidate":${
        JSON.stringify(data.ice_candidate)
      }}}`
      : `{"event":"sessionDescription","data":{"peer_id":${peer.quoted},"session_description":${
        JSON.stringify(data.session_description)
      }}}`;
    if (to.home === this.#self) {
      // Away: held for its return.
      if (to.link === null) return this.#resume.hold(to.id, text);
      return this.#write(to, text);
    }
    // Its socket is on another instance: straight there, in order.
    if (!this.#bus?.send(to.home, to.id, text)) {
      this.#error(
        peer,
        "unavailable",
        "Cannot relay: this server cannot reach the rest of the cluster; try again in a moment",
        event,
      );
    }
  }

  /** A frame relayed from another instance for a peer connected here. */
  #arrived(peerId: string, text: string) {
    const peer = this.#peers.get(peerId);
    if (peer === undefined || peer.home !== this.#self) return;
    if (peer.link === null) return this.#resume.hold(peer.id, text);
    this.#write(peer, text);
  }

  #error(peer: PeerRecord, code: ErrorCode, message: string, event?: string) {
    if (peer.home !== this.#self || this.#muted > 0) return; // its own instance tells it
    this.metrics.errors[code]++;
    this.#logger.log("debug", "refused", { peer: peer.id, code });
    this.#send(peer, {
      event: "error",
      data: event === undefined ? { code, message } : { code, message, event },
    });
  }

  /**
   * How room changes reach a peer, by id. In a cluster every instance
   * applies every change: each sends only to the peers connected to it.
   */
  #deliver(peerId: string, message: ServerMessage | string) {
    const target = this.#peers.get(peerId);
    if (target !== undefined) this.#send(target, message);
  }

  /** Sends a frame, or its text already written. */
  #send(peer: PeerRecord, message: ServerMessage | string) {
    if (peer.home !== this.#self) return;
    const text = typeof message === "string" ? message : encode(message);
    // No connection: away (held for its return) or being removed (dropped).
    if (peer.link === null) return this.#resume.hold(peer.id, text);
    this.#write(peer, text);
  }

  #write(peer: PeerRecord, text: string) {
    const link = peer.link;
    if (link === null) return;
    if (link.conn.bufferedAmount > this.#maxBuffered) {
      this.#logger.log("warn", "closing slow consumer", { peer: peer.id });
      this.#kick(peer, CLOSE_CODES.tryAgainLater, "slow consumer");
      return;
    }
    try {
      link.conn.send(text);
    } catch (error) {
      // The socket died under us; its close event will clean up.
      this.#logger.log("debug", "send failed", { peer: peer.id, error: String(error) });
    }
  }

  /** Makes `link` speak for `peer`. */
  #bind(peer: PeerRecord, link: Link) {
    peer.attach(link);
    link.attach(peer);
    peer.address = link.limits.address;
  }

  /** Detaches `link` from the peer it speaks for, if any. */
  #unbind(link: Link) {
    const peer = link.peer;
    if (peer !== null && peer.link === link) peer.attach(null);
    link.attach(null);
  }

  /** Detaches and closes a connection without touching its peer's other state. */
  #dropLink(link: Link, code: number, reason: string) {
    this.#unbind(link);
    try {
      link.conn.close(code, reason);
    } catch {
      // Already closed: nothing to do but forget it.
    }
  }

  /** Closes a peer's connection for a policy reason and forgets the peer. */
  #kick(peer: PeerRecord, code: number, reason: string) {
    this.metrics.connectionsKicked++;
    if (peer.link !== null) this.#dropLink(peer.link, code, reason);
    this.#remove(peer);
  }

  /** Whether `peer` is still a live identity of this hub (not removed or kicked). */
  #holds(peer: PeerRecord): boolean {
    return this.#peers.get(peer.id) === peer;
  }

  /** Whether `peerId` shares a room with anyone (someone to relay to). */
  #hasCompany(peerId: string): boolean {
    return this.registry.neighboursOf(peerId).length > 0;
  }

  /**
   * A peer connected here leaves for good (Leave, a kick, its window
   * passed). Alone it is forgotten at once; in a cluster, once its leave
   * comes back through the shared order (it sends nothing meanwhile).
   */
  #remove(peer: PeerRecord) {
    if (!this.#holds(peer)) return;
    // A leave on its way is proposed again only if it never came back (an append Redis refused).
    if (peer.leaving && this.#now() - peer.leavingAt < RETRY_OP_MS) return;
    // In a cluster, one the others never knew (it never joined) is nobody's business but ours.
    if (this.#bus !== undefined && !peer.shared) return this.#forget(peer);
    peer.leaving = true;
    peer.leavingAt = this.#now();
    // What is held for it stays until the leave applies: a resume ordered
    // before it wins, and must get those frames.
    this.#propose({
      op: "leave",
      peer: peer.id,
      home: peer.home,
      generation: peer.generation,
    });
  }

  /** Forgets a peer for good: everyone it shared a channel with is told. */
  #forget(peer: PeerRecord) {
    if (!this.#holds(peer)) return;
    this.#peers.delete(peer.id);
    this.#relays.forget(peer.id);
    this.#orphans.delete(peer.id);
    // Retired alike everywhere, or not at all: in a cluster an identity the
    // others never knew (it never joined) is forgotten here only, and a
    // resume of it elsewhere must find it free on every instance.
    if (this.#bus === undefined || peer.shared) this.#resume.retire(peer.id, this.#now());
    else this.#resume.forget(peer.id);
    if (peer.link !== null) {
      // The cluster gave it up while this instance was cut off.
      this.#dropLink(peer.link, CLOSE_CODES.tryAgainLater, "left the room meanwhile");
    }
    this.#membership.leaveAll(peer.id);
  }

  /** Whether room changes can be made now; if not, `peer` hears why. */
  #reachable(peer: PeerRecord, event: string): boolean {
    if (this.#bus === undefined || this.#bus.available) return true;
    this.#error(
      peer,
      "unavailable",
      `Cannot ${event}: this server cannot reach the rest of the cluster; try again in a moment`,
      event,
    );
    return false;
  }

  /** Alone, a change is applied at once; in a cluster, once the shared order brings it back. */
  #propose(op: Op) {
    if (this.#bus !== undefined) return this.#bus.propose(op);
    // Alone, the local order: applied before the frame handler returns, but
    // never inside another op's apply (a kick during a join's fan-out is a
    // leave applied after that join).
    this.#queued.push(op);
    if (this.#applying) return;
    this.#applying = true;
    try {
      for (let next = this.#queued.shift(); next !== undefined; next = this.#queued.shift()) {
        this.#guarded(() => this.#apply(next));
      }
    } finally {
      this.#applying = false;
    }
  }

  /** Applies one change to the rooms, exactly alike on every instance. */
  #apply(op: Op) {
    if (!op.replayed) return this.#applyOne(op);
    // Applied again after Redis lost it (maybe applied before): nothing it refuses is answered.
    this.#muted++;
    try {
      this.#applyOne(op);
    } finally {
      this.#muted--;
    }
  }

  #applyOne(op: Op) {
    switch (op.op) {
      case "join": {
        const waiting = this.#takeWaiting(op.home, op.ref, "join");
        if (this.#adopt(op.peer, op.home) === undefined) return;
        const request: JoinOptions = { channel: op.channel, userdata: op.userdata };
        if (op.browser !== undefined) request.browser = op.browser;
        // The text stays with the home instance: the others only need to know one came.
        if (op.password) request.password = waiting?.request.password ?? "";
        if (op.verified !== undefined) request.verified = op.verified;
        const record = this.#membership.join(op.peer, request);
        if (record !== undefined && waiting !== undefined) {
          this.#checkPassword(waiting.link, waiting.peer, { request: waiting.request, record });
        }
        return;
      }
      case "knock":
        if (this.#adopt(op.peer, op.home) === undefined) return;
        return this.#membership.knock(op.peer, op);
      case "part":
        return this.#membership.part(op.peer, op.channel);
      case "lock":
        return this.#membership.lock(op.peer, op.channel, op.locked);
      case "setPassword":
        return this.#membership.setPassword(op.peer, op.channel, op.record);
      case "host": {
        const { peer, event, channel, target } = op;
        // Removal takes every identity of the browser (another tab), not the host's own.
        const twins = event === "remove"
          ? this.#authority.sameBrowser(channel, target).filter((id) => id !== peer)
          : [];
        const knock = event === "deny" ? this.#authority.knockOf(channel, target) : undefined;
        if (!this.#membership.hostAction(peer, { event, channel, target })) return;
        if (event === "remove") {
          for (const id of [target, ...twins]) this.#removeFromRoom(channel, id);
        }
        if (knock !== undefined) this.#turnedAway(channel, knock);
        return;
      }
      case "alert":
        return this.#membership.alertHosts(op.channel, op.alert);
      case "sweep":
        this.#sweepProposedAt = -Infinity;
        return this.#membership.sweep(op.at);
      case "leave": {
        const peer = this.#peers.get(op.peer);
        // A leave proposed for a home the peer has moved from, or before it
        // resumed since, is stale.
        if (peer !== undefined && peer.home === op.home && !this.#stale(peer, op)) {
          this.#forget(peer);
        }
        return;
      }
      case "away": {
        const peer = this.#peers.get(op.peer);
        if (peer === undefined || peer.home !== op.home || peer.away || this.#stale(peer, op)) {
          return;
        }
        peer.away = true;
        this.#membership.tellNeighbours(peer.id, { event: "peerAway", data: { peer_id: peer.id } });
        return;
      }
      case "resume":
        return this.#resumed(op, this.#takeWaiting(op.home, op.ref, "resume"));
      case "dead":
        return this.#homeDied(op.instance);
    }
  }

  /** What this instance waits to do for its own op `ref`, if it made it. */
  #takeWaiting<K extends Waiting["kind"]>(
    home: string,
    ref: number,
    kind: K,
  ): Extract<Waiting, { kind: K }> | undefined {
    if (home !== this.#self) return;
    const waiting = this.#waiting.get(ref);
    this.#waiting.delete(ref);
    return waiting?.kind === kind ? waiting as Extract<Waiting, { kind: K }> : undefined;
  }

  /** Whether `op` was proposed before `peer`'s latest resume (an op without a count never is). */
  #stale(peer: PeerRecord, op: { generation?: number }): boolean {
    return op.generation !== undefined && op.generation < peer.generation;
  }

  /** The peer a join or knock is for, known from now on everywhere (unless it left). */
  #adopt(peerId: string, home: string): PeerRecord | undefined {
    const known = this.#peers.get(peerId);
    if (known !== undefined) known.known = true;
    if (known !== undefined || home === this.#self || this.#resume.isRetired(peerId)) return known;
    const peer = new PeerRecord(peerId, home);
    peer.shared = true;
    peer.known = true;
    this.#peers.set(peerId, peer);
    return peer;
  }

  /**
   * An instance stopped answering: its peers are away (their clients
   * resume on another instance) and any instance removes those that do
   * not come back within the window. If it is this one, the cluster lost
   * track of it while it was cut off: its peers are asserted again.
   */
  #homeDied(instance: string) {
    const now = this.#now();
    for (const peer of [...this.#peers.values()]) {
      if (peer.home !== instance || peer.orphan) continue;
      peer.orphan = true;
      this.#orphans.set(peer.id, now + this.#windowMs);
      if (peer.away) continue;
      peer.away = true;
      this.#membership.tellNeighbours(peer.id, { event: "peerAway", data: { peer_id: peer.id } });
    }
    if (instance === this.#self) this.#reassert();
  }

  /**
   * The cluster lost track of this instance's peers (it thought this
   * instance dead, or Redis restarted empty): each one connected here is
   * proposed again, where it is and in its rooms.
   */
  #reassert(rooms?: Map<string, ResumeChannel[]>) {
    const mine = [...this.#peers.values()].filter((peer) =>
      peer.home === this.#self && peer.shared && !peer.leaving && peer.link !== null &&
      (rooms === undefined || rooms.has(peer.id))
    );
    if (mine.length > 0) {
      this.#logger.log("warn", "asserting this instance's peers to the cluster", {
        peers: mine.length,
      });
    }
    for (const peer of mine) {
      const channels = rooms?.get(peer.id) ?? this.#roomsOf(peer.id);
      this.#bus?.propose({
        op: "resume",
        peer: peer.id,
        home: this.#self,
        ref: 0,
        channels,
        generation: peer.generation,
      });
    }
  }

  /** The rooms `peerId` is in, with its userdata in each, as a resume lists them. */
  #roomsOf(peerId: string): ResumeChannel[] {
    return [...this.registry.channelsOf(peerId)].map((channel) => ({
      channel,
      userdata: this.registry.userdataOf(peerId, channel) ?? {},
    }));
  }

  /** Every room and where each peer is connected, for an instance that starts. */
  #exportState(): ClusterState {
    const peers = [];
    for (const peer of this.#peers.values()) {
      // Only what the shared order made known (not a join still on its way),
      // and a peer whose leave is on its way is still in the rooms until then.
      if (!peer.known) continue;
      peers.push({
        id: peer.id,
        home: peer.home,
        away: peer.away,
        orphan: peer.orphan,
        generation: peer.generation,
      });
    }
    return {
      peers,
      channels: this.registry.entries(),
      rooms: this.#authority.snapshot(),
      retired: this.#resume.retiredEntries(),
    };
  }

  /**
   * Takes another instance's rooms: as this instance starts (before any op
   * or connection), or while it runs, when it finds it missed ops (a gap in
   * the shared order, an op it cannot read, Redis restarted empty while it
   * was stopped). The peers connected here keep their sockets and hear what
   * they missed — `addPeer` for who came, `removePeer` for who went, the
   * rooms' state — and those the others do not know are asserted again.
   */
  #importState(state: ClusterState) {
    const now = this.#now();
    const mine = (peer: PeerRecord) => peer.home === this.#self && peer.link !== null;
    // What each person connected here saw before.
    const before = new Map<string, Set<string>>();
    const rooms = new Map<string, ResumeChannel[]>();
    for (const peer of this.#peers.values()) {
      if (!mine(peer)) continue;
      before.set(peer.id, new Set(this.registry.neighboursOf(peer.id)));
      rooms.set(peer.id, this.#roomsOf(peer.id));
    }
    const incoming = new Map(state.peers.map((p) => [p.id, p]));
    // What waits for its own op may never see it now (the order moved on
    // past it): those connections go, and their clients resume or join again.
    for (const { link } of this.#waiting.values()) {
      try {
        link.conn.close(CLOSE_CODES.tryAgainLater, "the server took the rooms again; reconnect");
      } catch {
        // already closed
      }
    }
    this.#waiting.clear();
    for (const peer of [...this.#peers.values()]) {
      this.registry.leaveAll(peer.id);
      // Kept: ours with a socket, and ours whose join or knock is still on its way.
      const inFlight = peer.home === this.#self && peer.shared && !peer.known;
      if (incoming.has(peer.id) || mine(peer) || inFlight) continue;
      // Gone while this instance was not looking.
      this.#peers.delete(peer.id);
      this.#orphans.delete(peer.id);
      this.#relays.forget(peer.id);
      this.#resume.forget(peer.id);
    }
    for (const { id, home, away, orphan, generation } of state.peers) {
      let peer = this.#peers.get(id);
      if (peer === undefined) {
        peer = new PeerRecord(id, home);
        this.#peers.set(id, peer);
      } else if (mine(peer) && home !== this.#self) {
        // It resumed on another instance meanwhile: this socket is stale.
        this.#dropLink(peer.link!, CLOSE_CODES.replaced, "resumed elsewhere");
        this.#resume.forget(id);
        this.#relays.forget(id);
        before.delete(id);
      }
      peer.generation = Math.max(peer.generation, generation ?? 0);
      peer.shared = true;
      peer.known = true;
      if (mine(peer)) continue; // its socket is here, whatever the others thought
      peer.home = home;
      peer.away = away;
      peer.orphan = orphan;
      if (orphan) this.#orphans.set(id, now + this.#windowMs);
    }
    for (const [channel, members] of state.channels) {
      for (const [peerId, userdata] of members) {
        if (this.#peers.has(peerId)) this.registry.join(peerId, { channel, userdata });
      }
    }
    this.#authority.load(parseRoomSnapshots(state.rooms));
    this.#resume.addRetired(state.retired);
    for (const [peerId, saw] of before) {
      this.#caughtUp(peerId, { saw, was: rooms.get(peerId)?.map((r) => r.channel) ?? [] });
    }
    // The rooms say some are connected here, but no socket speaks for them
    // (their resume was passed over): held away for their window, like a drop.
    for (const peer of [...this.#peers.values()]) {
      if (peer.home !== this.#self || peer.link !== null || !peer.known) continue;
      if (this.#resume.isAway(peer.id) || peer.leaving) continue;
      if (this.#resume.goAway(peer.id, now)) {
        this.#propose({ op: "away", peer: peer.id, home: peer.home, generation: peer.generation });
      } else this.#remove(peer);
    }
    // Those connected here that the others had lost are asserted again, in their rooms.
    for (const id of rooms.keys()) {
      const theirs = incoming.get(id);
      const known = theirs !== undefined && theirs.home === this.#self && !theirs.orphan;
      if (known || !before.has(id)) rooms.delete(id);
    }
    if (rooms.size > 0) this.#reassert(rooms);
  }

  /**
   * A person connected here, after this instance took the rooms from
   * another: introduced to who came (they offer, as a newcomer does), told
   * who went and which of the rooms it `was` in it is out of (its part was
   * applied elsewhere), then the state of each of its rooms.
   */
  #caughtUp(peerId: string, { saw, was }: { saw: Set<string>; was: string[] }) {
    const now = new Set(this.registry.neighboursOf(peerId));
    for (const other of now) {
      if (saw.has(other)) continue;
      const channel = [...this.registry.channelsOf(peerId)].find((c) =>
        this.registry.isMember(other, c)
      )!;
      const userdata = JSON.stringify(this.registry.userdataOf(other, channel) ?? {});
      this.#deliver(peerId, encodeAddPeer(other, false, userdata));
    }
    for (const other of saw) {
      if (!now.has(other)) this.#deliver(peerId, { event: "removePeer", data: { peer_id: other } });
    }
    for (const channel of was) {
      if (!this.registry.isMember(peerId, channel)) {
        this.#deliver(peerId, { event: "parted", data: { channel } });
      }
    }
    for (const channel of this.registry.channelsOf(peerId)) {
      const state = this.#authority.stateOf(channel);
      if (state !== undefined) this.#deliver(peerId, { event: "roomState", data: state });
    }
  }
}

/** A connection waiting for its own op to come back through the shared order. */
type Waiting =
  | {
    kind: "join";
    link: Link;
    peer: PeerRecord;
    /** With the password text, which never leaves this instance. */
    request: JoinRequest & { verified?: string };
  }
  | ResumeWaiting;

interface ResumeWaiting {
  kind: "resume";
  link: Link;
  /** The identity from `welcome`, given up for the one the token proves. */
  fresh: PeerRecord;
}
