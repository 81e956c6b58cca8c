/**
 * The signaling hub: turns client frames into registry changes and frames
 * for other peers. Transport-agnostic — it sees only {@linkcode Connection}
 * — and `Session.receive()` never throws, because Deno ends the process on
 * an exception inside a WebSocket event handler.
 *
 * Identity outlives a connection: a peer whose socket drops abnormally is
 * held "away" for a grace window, with relays to it queued, and a new
 * connection presenting its resume token takes it back — also on a
 * restarted hub that shares the token secret. See docs/protocol.md.
 *
 * @module
 */

import { type Logger, SILENT_LOGGER } from "./log.ts";
import { Metrics } from "./metrics.ts";
import {
  type ClientMessage,
  encode,
  type ErrorCode,
  type IceServer,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ResumeChannel,
  type ServerMessage,
  type UserData,
  utf8Length,
} from "./protocol.ts";
import { Registry } from "./registry.ts";
import type { TokenSigner } from "./token.ts";
import { CLOSE_CODES } from "./wire.ts";

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

/** Limits and collaborators of a {@linkcode Hub}; every field has a default. */
export interface HubOptions {
  /** ICE servers announced in `welcome`. Default `[]`. */
  iceServers?: IceServer[];
  /** Members one channel may hold. Default 8 (a mesh uploads N-1 streams). */
  maxPeersPerChannel?: number;
  /** Channels one connection may be in at once. Default 8. */
  maxChannelsPerPeer?: number;
  /** Largest accepted frame in bytes. Default 65,536. */
  maxMessageBytes?: number;
  /** Token-bucket size: frames accepted in a burst. Default 500. */
  rateBurst?: number;
  /** Token-bucket refill, frames per second. Default 100. */
  ratePerSecond?: number;
  /** Rate-refused frames, without a pause, before closing with 1008. Default 1000. */
  abuseLimit?: number;
  /** Bytes queued to a socket before it is closed as a slow consumer. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Signs resume tokens; without it peers cannot resume and drops remove at once. */
  tokens?: TokenSigner;
  /** How long an abnormally closed peer is held away, ms. Default 25,000. */
  resumeWindowMs?: number;
  /** Lifetime of a resume token, ms; refreshed at half-life. Default 120,000. */
  tokenTtlMs?: number;
  /** Frames held for an away peer. Default 200. */
  maxHeldMessages?: number;
  /** Bytes held for an away peer. Default 256 KiB. */
  maxHeldBytes?: number;
  /**
   * Joins one connection may attempt in a burst, refilled at
   * `joinsPerMinute`; the same budget, times ten, is shared by every
   * connection from one client address. Stops scanning for rooms by
   * name. Default 10.
   */
  joinBurst?: number;
  /** Join attempts per minute once the burst is spent. Default 10. */
  joinsPerMinute?: number;
  /**
   * How long a connection may stay without joining or resuming before it
   * is closed with 1008, ms: a socket that never takes part only holds
   * memory. Default 15,000 (clients join right after `welcome`).
   */
  joinTimeoutMs?: number;
  /** Ids retired before this hub started (loaded from disk), with their end times. */
  retired?: Iterable<[string, number]>;
  /** Peers held away at once; past this a dropped peer is removed at once. Default 1,000. */
  maxAwayPeers?: number;
  /** Wall clock in ms since the epoch (tokens outlive the process). Default `Date.now`. */
  now?: () => number;
  /** Source of peer ids. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Default: writes nothing. */
  logger?: Logger;
  /** Default: a fresh {@linkcode Metrics}. */
  metrics?: Metrics;
}

/** A refilling allowance of actions (token bucket). */
class Allowance {
  #tokens: number;
  #at: number;
  constructor(readonly burst: number, readonly perMs: number, now: number) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Spends one action if there is one left. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the allowance is back to a full burst (nothing to remember). */
  full(now: number): boolean {
    return this.#tokens + (now - this.#at) * this.perMs >= this.burst;
  }
}

/** One peer identity: its channels live in the registry, its socket here. */
class Peer {
  link: Link | null = null;
  away = false;
  awaySince = 0;
  held: string[] = [];
  heldBytes = 0;
  tokenIssuedAt = 0;
  /** Whether the "dropped a frame" warning was logged in this away spell. */
  warnedDrop = false;
  /** Expiry of the newest token issued: older ones are superseded. */
  tokenExpiresAt = 0;
  constructor(public id: string) {}
}

/** One transport connection; it speaks for at most one peer at a time. */
class Link implements Session {
  peer: Peer | null = null;
  tokens: number;
  refilledAt: number;
  strikes = 0;
  /** Whether a frame was dispatched yet (`resume` must be the first). */
  spoken = false;
  /** When the connection opened, ms (for the join timeout). */
  readonly openedAt: number;
  joins: Allowance;
  constructor(
    readonly hub: Hub,
    readonly conn: Connection,
    { burst, now, joins, address }: {
      burst: number;
      now: number;
      joins: Allowance;
      address: string;
    },
  ) {
    this.joins = joins;
    this.address = address;
    this.tokens = burst;
    this.refilledAt = now;
    this.openedAt = now;
  }

  readonly address: string;

  get peerId(): string {
    return this.peer?.id ?? "";
  }

  receive(data: unknown): void {
    try {
      this.hub.handle(this, data);
    } catch (error) {
      // A bug, not bad input: keep the process and the other peers alive.
      this.hub.logError(this.peerId, error);
    }
  }

  close(info: CloseInfo = {}): void {
    try {
      this.hub.linkClosed(this, info.deliberate ?? true);
    } catch (error) {
      this.hub.logError(this.peerId, error);
    }
  }
}

/** The in-memory signaling hub. */
export class Hub {
  readonly metrics: Metrics;
  readonly registry: Registry = new Registry();
  #peers = new Map<string, Peer>();
  /** Ids that left on purpose, until their tokens would have expired. */
  #retired = new Map<string, number>();
  #retiredVersion = 0;
  #iceServers: IceServer[];
  #maxPeers: number;
  #maxChannels: number;
  #maxBytes: number;
  #burst: number;
  #perSecond: number;
  #abuseLimit: number;
  #maxBuffered: number;
  #tokens: TokenSigner | undefined;
  #resumeWindowMs: number;
  #tokenTtlMs: number;
  #maxHeld: number;
  #maxHeldBytes: number;
  #now: () => number;
  #newId: () => string;
  #logger: Logger;
  #joinBurst: number;
  #joinsPerMs: number;
  #maxAway: number;
  #joinTimeoutMs: number;
  /** Join allowances shared by the connections of one client address. */
  #addressJoins = new Map<string, Allowance>();

  constructor(options: HubOptions = {}) {
    this.#iceServers = options.iceServers ?? [];
    this.#maxPeers = options.maxPeersPerChannel ?? 8;
    this.#maxChannels = options.maxChannelsPerPeer ?? 8;
    this.#maxBytes = options.maxMessageBytes ?? 64 * 1024;
    this.#burst = options.rateBurst ?? 500;
    this.#perSecond = options.ratePerSecond ?? 100;
    this.#abuseLimit = options.abuseLimit ?? 1000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#tokens = options.tokens;
    this.#resumeWindowMs = options.resumeWindowMs ?? 25_000;
    this.#tokenTtlMs = options.tokenTtlMs ?? 120_000;
    this.#maxHeld = options.maxHeldMessages ?? 200;
    this.#maxHeldBytes = options.maxHeldBytes ?? 256 * 1024;
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#joinBurst = options.joinBurst ?? 10;
    this.#joinsPerMs = (options.joinsPerMinute ?? 10) / 60_000;
    this.#maxAway = options.maxAwayPeers ?? 1000;
    this.#joinTimeoutMs = options.joinTimeoutMs ?? 15_000;
    for (const [id, until] of options.retired ?? []) this.#retired.set(id, until);
    this.metrics = options.metrics ?? new Metrics();
  }

  /** Bumped whenever the retired set changes, so a saver knows when to write. */
  get retiredVersion(): number {
    return this.#retiredVersion;
  }

  /** Ids that left on purpose and until when their tokens are refused. */
  retiredEntries(): [string, number][] {
    return [...this.#retired];
  }

  /** Open connections. */
  get connectionCount(): number {
    let count = 0;
    for (const peer of this.#peers.values()) if (peer.link !== null) count++;
    return count;
  }

  /** Peers held away, waiting for their client to resume. */
  get awayCount(): number {
    let count = 0;
    for (const peer of this.#peers.values()) if (peer.away) count++;
    return count;
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
    const link = new Link(this, conn, {
      burst: this.#burst,
      now,
      joins: new Allowance(this.#joinBurst, this.#joinsPerMs, now),
      address,
    });
    let id = this.#newId();
    while (this.#peers.has(id) || this.#retired.has(id)) id = this.#newId();
    const peer = new Peer(id);
    peer.link = link;
    link.peer = peer;
    this.#peers.set(id, peer);
    this.metrics.connectionsTotal++;
    this.#logger.log("debug", "connect", { peer: id });
    const welcome: Extract<ServerMessage, { event: "welcome" }>["data"] = {
      peer_id: id,
      protocol: PROTOCOL_VERSION,
      ice_servers: this.#iceServers,
    };
    if (this.#tokens !== undefined) {
      welcome.resume_token = this.#issueToken(peer, now);
      welcome.resume_window = Math.round(this.#resumeWindowMs / 1000);
    }
    this.#send(peer, { event: "welcome", data: welcome });
    return link;
  }

  /**
   * Housekeeping, called about once a second: removes away peers whose
   * window has passed and refreshes resume tokens at half-life.
   */
  tick(): void {
    const now = this.#now();
    for (const peer of [...this.#peers.values()]) {
      if (peer.away && now - peer.awaySince >= this.#resumeWindowMs) {
        this.#logger.log("debug", "resume window passed", { peer: peer.id });
        this.#remove(peer);
      } else if (
        peer.link !== null && now - peer.link.openedAt >= this.#joinTimeoutMs &&
        this.registry.channelsOf(peer.id).size === 0 && !peer.link.spoken
      ) {
        this.#logger.log("debug", "closing a connection that never joined", { peer: peer.id });
        this.#kick(peer, CLOSE_CODES.policyViolation, "join or resume within the timeout");
      } else if (
        peer.link !== null && this.#tokens !== undefined &&
        now - peer.tokenIssuedAt >= this.#tokenTtlMs / 2
      ) {
        this.#send(peer, { event: "session", data: { resume_token: this.#issueToken(peer, now) } });
      }
    }
    for (const [id, until] of this.#retired) {
      if (until <= now) {
        this.#retired.delete(id);
        this.#retiredVersion++;
      }
    }
    for (const [address, joins] of this.#addressJoins) {
      if (joins.full(now)) this.#addressJoins.delete(address);
    }
  }

  /** Closes every connection with 1001 (server going away). */
  shutdown(): void {
    for (const peer of [...this.#peers.values()]) {
      const link = peer.link;
      if (link !== null) this.#dropLink(link, CLOSE_CODES.goingAway, "server shutting down");
      this.registry.leaveAll(peer.id);
    }
    this.#peers.clear();
  }

  /** @internal Frame dispatch; called by `Link.receive`. */
  handle(link: Link, data: unknown): void {
    const peer = link.peer;
    if (peer === null) return;
    this.metrics.messagesReceived++;
    // Rate limit first: a flood must cost as little as possible.
    if (!this.#takeToken(link)) {
      if (link.strikes >= this.#abuseLimit) {
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
    this.#dispatch(link, peer, parsed.value);
  }

  /** @internal The transport closed; called by `Link.close`. */
  linkClosed(link: Link, deliberate: boolean): void {
    const peer = link.peer;
    if (peer === null || peer.link !== link) return; // replaced or kicked
    link.peer = null;
    peer.link = null;
    if (deliberate || this.#tokens === undefined) {
      this.#logger.log("debug", "disconnect", { peer: peer.id });
      this.#remove(peer);
      return;
    }
    if (this.awayCount >= this.#maxAway) {
      this.#logger.log("warn", "too many away peers; removing at once", { peer: peer.id });
      this.#remove(peer);
      return;
    }
    this.#logger.log("debug", "away", { peer: peer.id });
    peer.away = true;
    peer.awaySince = this.#now();
    for (const other of this.registry.neighboursOf(peer.id)) {
      this.#sendTo(other, { event: "peerAway", data: { peer_id: peer.id } });
    }
  }

  /** @internal */
  logError(peerId: string, error: unknown): void {
    this.#logger.log("error", "handler failed", {
      peer: peerId,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }

  #dispatch(link: Link, peer: Peer, message: ClientMessage): void {
    const first = !link.spoken;
    link.spoken = true;
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
        if (!this.#takeJoin(link)) {
          return this.#error(
            peer,
            "rate_limited",
            "Cannot join: too many join attempts; wait a minute",
            "join",
          );
        }
        return this.#join(peer, message.data.channel, message.data.userdata);
      case "part":
        return this.#part(peer, message.data.channel);
      case "resume":
        return this.#resume(link, peer, message.data.token, message.data.channels);
      case "relayICECandidate":
        return this.#relay(peer, message.event, message.data.peer_id, {
          event: "iceCandidate",
          data: { peer_id: peer.id, ice_candidate: message.data.ice_candidate },
        });
      case "relaySessionDescription":
        return this.#relay(peer, message.event, message.data.peer_id, {
          event: "sessionDescription",
          data: { peer_id: peer.id, session_description: message.data.session_description },
        });
    }
  }

  #join(peer: Peer, channel: string, userdata: UserData, quiet = false) {
    const { id } = peer;
    // A peer kicked earlier in this frame's handling must not come back.
    if (!this.#holds(peer)) return;
    if (this.registry.isMember(id, channel)) {
      return this.#error(
        peer,
        "already_joined",
        `Cannot join channel "${channel}": already joined`,
        "join",
      );
    }
    if (this.registry.channelsOf(id).size >= this.#maxChannels) {
      return this.#error(
        peer,
        "too_many_channels",
        `Cannot join channel "${channel}": already in ${this.#maxChannels} channels`,
        "join",
      );
    }
    if (this.registry.size(channel) >= this.#maxPeers) {
      return this.#error(
        peer,
        "channel_full",
        `Cannot join channel "${channel}": it is full (${this.#maxPeers} peers)`,
        "join",
      );
    }
    const { newlyShared, members } = this.registry.join(id, { channel, userdata });
    for (const other of newlyShared) {
      // Any send may kick a slow consumer, which removes it and tells the
      // others: a kicked joiner stops the fan-out, a kicked member is not
      // introduced (either would leave a member no socket owns).
      if (!this.#holds(peer)) return;
      this.#sendTo(other.peerId, {
        event: "addPeer",
        data: { peer_id: id, should_create_offer: false, polite: true, userdata },
      });
      if (!this.registry.isMember(other.peerId, channel)) continue;
      this.#send(peer, {
        event: "addPeer",
        data: {
          peer_id: other.peerId,
          should_create_offer: true,
          polite: false,
          userdata: other.userdata,
        },
      });
    }
    if (!this.#holds(peer)) return;
    if (!quiet) this.#send(peer, { event: "joined", data: { channel, peers: members } });
    this.#logger.log("debug", "join", { peer: id, channel, size: members.length + 1 });
  }

  #part(peer: Peer, channel: string) {
    const { id } = peer;
    if (!this.registry.isMember(id, channel)) {
      return this.#error(
        peer,
        "not_joined",
        `Cannot part channel "${channel}": not joined`,
        "part",
      );
    }
    for (const other of this.registry.part(id, channel)) {
      this.#sendTo(other, { event: "removePeer", data: { peer_id: id } });
      this.#send(peer, { event: "removePeer", data: { peer_id: other } });
    }
    this.#send(peer, { event: "parted", data: { channel } });
    this.#logger.log("debug", "part", { peer: id, channel });
  }

  /**
   * Moves `link` onto the identity its token proves: an away peer comes
   * back, a connected one is replaced (second tab), and an unknown one
   * (this hub restarted) is recreated and rejoins its channels.
   */
  #resume(link: Link, fresh: Peer, token: string, channels: ResumeChannel[]) {
    const refuse = (why: string) =>
      this.#error(fresh, "bad_token", `Cannot resume: ${why}; continuing as a new peer`, "resume");
    if (this.#tokens === undefined) return refuse("this server does not support resuming");
    if (this.registry.channelsOf(fresh.id).size > 0) {
      return this.#error(fresh, "bad_request", "Cannot resume after joining a channel", "resume");
    }
    const now = this.#now();
    const claims = this.#tokens.verify(token, now);
    if (claims === "expired") return refuse("the token has expired");
    if (typeof claims === "string") return refuse("the token is not valid");
    if (this.#retired.has(claims.peerId)) return refuse("that peer has left");
    let peer = this.#peers.get(claims.peerId);
    if (peer === fresh) return refuse("already that peer");
    // A refresh supersedes older tokens: a leaked old copy cannot take over.
    if (peer !== undefined && claims.expiresAt < peer.tokenExpiresAt) {
      return refuse("the token was superseded by a newer one");
    }
    // The identity from `welcome` is given up for the proven one.
    this.#peers.delete(fresh.id);
    const wasAway = peer?.away ?? false;
    const restored = peer === undefined;
    if (peer === undefined) {
      peer = new Peer(claims.peerId);
      this.#peers.set(peer.id, peer);
    } else if (peer.link !== null) {
      this.#logger.log("debug", "replaced by another connection", { peer: peer.id });
      this.#dropLink(peer.link, CLOSE_CODES.replaced, "resumed elsewhere");
    }
    peer.link = link;
    link.peer = peer;
    peer.away = false;
    peer.warnedDrop = false;
    this.metrics.resumes++;
    this.#logger.log("debug", "resumed", { peer: peer.id, away: wasAway });
    const joined = channels.filter((c) => this.registry.isMember(peer.id, c.channel));
    this.#send(peer, {
      event: "resumed",
      data: { peer_id: peer.id, channels: channels.map((c) => c.channel), restored },
    });
    const held = peer.held;
    peer.held = [];
    peer.heldBytes = 0;
    for (const text of held) {
      this.#write(peer, text);
      if (!this.#holds(peer)) return; // kicked as a slow consumer meanwhile
    }
    // After a restart the registry is empty: membership comes back from
    // the resuming clients. Known pairs keep their connections (clients
    // ignore a repeated addPeer), so roles never flip.
    for (const { channel, userdata } of channels) {
      if (!joined.some((c) => c.channel === channel)) this.#join(peer, channel, userdata, true);
    }
    if (!this.#holds(peer)) return;
    this.#send(peer, { event: "session", data: { resume_token: this.#issueToken(peer, now) } });
    if (wasAway && this.#holds(peer)) {
      for (const other of this.registry.neighboursOf(peer.id)) {
        this.#sendTo(other, { event: "peerBack", data: { peer_id: peer.id } });
      }
    }
  }

  #relay(peer: Peer, event: string, target: string, message: ServerMessage) {
    if (!this.registry.shareChannel(peer.id, target)) {
      return this.#error(
        peer,
        "unknown_peer",
        `Cannot relay to peer "${target.slice(0, 64)}": not in a channel with you`,
        event,
      );
    }
    this.metrics.messagesRelayed++;
    this.#sendTo(target, message);
  }

  #error(peer: Peer, code: ErrorCode, message: string, event?: string) {
    this.metrics.errors[code]++;
    this.#logger.log("debug", "refused", { peer: peer.id, code });
    this.#send(peer, {
      event: "error",
      data: event === undefined ? { code, message } : { code, message, event },
    });
  }

  #issueToken(peer: Peer, now: number): string {
    peer.tokenIssuedAt = now;
    peer.tokenExpiresAt = now + this.#tokenTtlMs;
    return this.#tokens!.sign({ peerId: peer.id, expiresAt: peer.tokenExpiresAt });
  }

  #sendTo(peerId: string, message: ServerMessage) {
    const target = this.#peers.get(peerId);
    if (target !== undefined) this.#send(target, message);
  }

  #send(peer: Peer, message: ServerMessage) {
    const text = encode(message);
    if (peer.away) {
      // Held for its return; bounded so an absent peer costs little.
      const bytes = text.length;
      if (peer.held.length < this.#maxHeld && peer.heldBytes + bytes <= this.#maxHeldBytes) {
        peer.held.push(text);
        peer.heldBytes += bytes;
      } else if (!peer.warnedDrop) {
        // Once per away spell, not once per frame: a busy room sends hundreds.
        peer.warnedDrop = true;
        this.#logger.log("warn", "dropping frames for an away peer (hold full)", { peer: peer.id });
      }
      return;
    }
    this.#write(peer, text);
  }

  #write(peer: Peer, text: string) {
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

  /** Spends a join from the connection's budget and its address's. */
  #takeJoin(link: Link): boolean {
    const now = this.#now();
    if (!link.joins.take(now)) return false;
    if (link.address === "") return true;
    let shared = this.#addressJoins.get(link.address);
    if (shared === undefined) {
      // Ten times one connection's: an office behind one NAT still joins.
      shared = new Allowance(this.#joinBurst * 10, this.#joinsPerMs * 10, now);
      this.#addressJoins.set(link.address, shared);
    }
    return shared.take(now);
  }

  #takeToken(link: Link): boolean {
    const now = this.#now();
    link.tokens = Math.min(
      this.#burst,
      link.tokens + (now - link.refilledAt) * this.#perSecond / 1000,
    );
    link.refilledAt = now;
    if (link.tokens >= 1) {
      link.tokens -= 1;
      if (link.tokens >= this.#burst - 1) link.strikes = 0;
      return true;
    }
    link.strikes++;
    return false;
  }

  /** Detaches and closes a connection without touching its peer's state. */
  #dropLink(link: Link, code: number, reason: string) {
    const peer = link.peer;
    if (peer !== null && peer.link === link) peer.link = null;
    link.peer = null;
    try {
      link.conn.close(code, reason);
    } catch {
      // Already closed: nothing to do but forget it.
    }
  }

  /** Closes a peer's connection for a policy reason and forgets the peer. */
  #kick(peer: Peer, code: number, reason: string) {
    this.metrics.connectionsKicked++;
    if (peer.link !== null) this.#dropLink(peer.link, code, reason);
    this.#remove(peer);
  }

  /** Whether `peer` is still a live identity of this hub (not removed or kicked). */
  #holds(peer: Peer): boolean {
    return this.#peers.get(peer.id) === peer;
  }

  /** Forgets a peer for good: everyone it shared a channel with is told. */
  #remove(peer: Peer) {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    peer.away = false;
    peer.held = [];
    if (this.#tokens !== undefined) {
      this.#retired.set(peer.id, this.#now() + this.#tokenTtlMs);
      this.#retiredVersion++;
    }
    for (const other of this.registry.leaveAll(peer.id)) {
      this.#sendTo(other, { event: "removePeer", data: { peer_id: peer.id } });
    }
  }
}
