/**
 * The signaling hub: turns client frames into registry changes and frames
 * for other peers. Transport-agnostic — it sees only {@linkcode Connection}
 * — and `Session.receive()` never throws, because Deno ends the process on
 * an exception inside a WebSocket event handler.
 *
 * @module
 */

import { Metrics } from "./metrics.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import {
  type ClientMessage,
  encode,
  type ErrorCode,
  type IceServer,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  utf8Length,
} from "./protocol.ts";
import { Registry } from "./registry.ts";

/** The little the hub needs of a socket. */
export interface Connection {
  /** Queues a text frame. May throw if the socket is already closing. */
  send(text: string): void;
  /** Closes the socket with a WebSocket close code. */
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
}

/** One connected client as the transport sees it. */
export interface Session {
  /** The server-assigned id of this peer. */
  readonly peerId: string;
  /** Handles one incoming frame. Never throws. */
  receive(data: unknown): void;
  /** Tells the hub the transport closed. Idempotent; never throws. */
  close(): void;
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
  /** Clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Source of peer ids. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Default: writes nothing. */
  logger?: Logger;
  /** Default: a fresh {@linkcode Metrics}. */
  metrics?: Metrics;
}

/** WebSocket close codes the hub uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  tryAgainLater: 1013,
} as const;

class PeerSession implements Session {
  readonly peerId: string;
  readonly conn: Connection;
  #hub: Hub;
  #tokens: number;
  #refilledAt: number;
  #strikes = 0;
  closed = false;

  constructor(
    hub: Hub,
    conn: Connection,
    peerId: string,
    burst: number,
    now: number,
  ) {
    this.#hub = hub;
    this.conn = conn;
    this.peerId = peerId;
    this.#tokens = burst;
    this.#refilledAt = now;
  }

  receive(data: unknown): void {
    try {
      this.#hub.handle(this, data);
    } catch (error) {
      // A bug, not bad input: keep the process and the other peers alive.
      this.#hub.logError(this, error);
    }
  }

  close(): void {
    try {
      this.#hub.disconnect(this);
    } catch (error) {
      this.#hub.logError(this, error);
    }
  }

  /** Takes one token; returns false (and counts a strike) when empty. */
  takeToken(now: number, burst: number, perSecond: number): boolean {
    this.#tokens = Math.min(
      burst,
      this.#tokens + (now - this.#refilledAt) * perSecond / 1000,
    );
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      if (this.#tokens >= burst - 1) this.#strikes = 0;
      return true;
    }
    this.#strikes++;
    return false;
  }

  get strikes(): number {
    return this.#strikes;
  }
}

/** The in-memory signaling hub. */
export class Hub {
  readonly metrics: Metrics;
  readonly registry: Registry = new Registry();
  #sessions = new Map<string, PeerSession>();
  #iceServers: IceServer[];
  #maxPeers: number;
  #maxChannels: number;
  #maxBytes: number;
  #burst: number;
  #perSecond: number;
  #abuseLimit: number;
  #maxBuffered: number;
  #now: () => number;
  #newId: () => string;
  #logger: Logger;

  constructor(options: HubOptions = {}) {
    this.#iceServers = options.iceServers ?? [];
    this.#maxPeers = options.maxPeersPerChannel ?? 8;
    this.#maxChannels = options.maxChannelsPerPeer ?? 8;
    this.#maxBytes = options.maxMessageBytes ?? 64 * 1024;
    this.#burst = options.rateBurst ?? 500;
    this.#perSecond = options.ratePerSecond ?? 100;
    this.#abuseLimit = options.abuseLimit ?? 1000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#now = options.now ?? (() => performance.now());
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.metrics = options.metrics ?? new Metrics();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Non-empty channels. */
  get channelCount(): number {
    return this.registry.channelCount;
  }

  /** Registers a new connection and sends it `welcome`. */
  connect(conn: Connection): Session {
    let peerId = this.#newId();
    while (this.#sessions.has(peerId)) peerId = this.#newId();
    const session = new PeerSession(
      this,
      conn,
      peerId,
      this.#burst,
      this.#now(),
    );
    this.#sessions.set(peerId, session);
    this.metrics.connectionsTotal++;
    this.#logger.log("debug", "connect", { peer: peerId });
    this.#send(session, {
      event: "welcome",
      data: {
        peer_id: peerId,
        protocol: PROTOCOL_VERSION,
        ice_servers: this.#iceServers,
      },
    });
    return session;
  }

  /** Closes every connection with 1001 (server going away). */
  shutdown(): void {
    for (const session of [...this.#sessions.values()]) {
      this.#kick(session, CLOSE_CODES.goingAway, "server shutting down", false);
    }
  }

  /** @internal Frame dispatch; called by `PeerSession.receive`. */
  handle(session: PeerSession, data: unknown): void {
    if (session.closed) return;
    this.metrics.messagesReceived++;
    // Rate limit first: a flood must cost as little as possible.
    if (!session.takeToken(this.#now(), this.#burst, this.#perSecond)) {
      if (session.strikes >= this.#abuseLimit) {
        this.#logger.log("warn", "closing abusive connection", {
          peer: session.peerId,
        });
        this.#kick(session, CLOSE_CODES.policyViolation, "rate limit exceeded");
        return;
      }
      this.#error(session, "rate_limited", "Slow down: too many messages");
      return;
    }
    if (typeof data !== "string") {
      this.#error(
        session,
        "bad_message",
        "Cannot parse frame: binary frames are not accepted",
      );
      return;
    }
    if (data.length > this.#maxBytes || utf8Length(data) > this.#maxBytes) {
      this.#error(
        session,
        "message_too_large",
        `Cannot handle frame: larger than ${this.#maxBytes} bytes`,
      );
      return;
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) {
      this.#error(session, parsed.code, parsed.message, parsed.event);
      return;
    }
    this.#dispatch(session, parsed.value);
  }

  /** @internal Transport closed; called by `PeerSession.close`. */
  disconnect(session: PeerSession): void {
    if (session.closed) return;
    session.closed = true;
    this.#sessions.delete(session.peerId);
    this.#logger.log("debug", "disconnect", { peer: session.peerId });
    for (const other of this.registry.leaveAll(session.peerId)) {
      this.#sendTo(other, {
        event: "removePeer",
        data: { peer_id: session.peerId },
      });
    }
  }

  /** @internal */
  logError(session: PeerSession, error: unknown): void {
    this.#logger.log("error", "handler failed", {
      peer: session.peerId,
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  }

  #dispatch(session: PeerSession, message: ClientMessage): void {
    switch (message.event) {
      case "join":
        return this.#join(session, message.data.channel, message.data.userdata);
      case "part":
        return this.#part(session, message.data.channel);
      case "relayICECandidate":
        return this.#relay(session, message.event, message.data.peer_id, {
          event: "iceCandidate",
          data: {
            peer_id: session.peerId,
            ice_candidate: message.data.ice_candidate,
          },
        });
      case "relaySessionDescription":
        return this.#relay(session, message.event, message.data.peer_id, {
          event: "sessionDescription",
          data: {
            peer_id: session.peerId,
            session_description: message.data.session_description,
          },
        });
    }
  }

  #join(
    session: PeerSession,
    channel: string,
    userdata: Record<string, unknown>,
  ) {
    const { peerId } = session;
    if (this.registry.isMember(peerId, channel)) {
      return this.#error(
        session,
        "already_joined",
        `Cannot join channel "${channel}": already joined`,
        "join",
      );
    }
    if (this.registry.channelsOf(peerId).size >= this.#maxChannels) {
      return this.#error(
        session,
        "too_many_channels",
        `Cannot join channel "${channel}": already in ${this.#maxChannels} channels`,
        "join",
      );
    }
    if (this.registry.size(channel) >= this.#maxPeers) {
      return this.#error(
        session,
        "channel_full",
        `Cannot join channel "${channel}": it is full (${this.#maxPeers} peers)`,
        "join",
      );
    }
    const { newlyShared, members } = this.registry.join(
      peerId,
      channel,
      userdata,
    );
    for (const other of newlyShared) {
      this.#sendTo(other.peerId, {
        event: "addPeer",
        data: {
          peer_id: peerId,
          should_create_offer: false,
          polite: true,
          userdata,
        },
      });
      this.#send(session, {
        event: "addPeer",
        data: {
          peer_id: other.peerId,
          should_create_offer: true,
          polite: false,
          userdata: other.userdata,
        },
      });
    }
    this.#send(session, { event: "joined", data: { channel, peers: members } });
    this.#logger.log("debug", "join", {
      peer: peerId,
      channel,
      size: members.length + 1,
    });
  }

  #part(session: PeerSession, channel: string) {
    const { peerId } = session;
    if (!this.registry.isMember(peerId, channel)) {
      return this.#error(
        session,
        "not_joined",
        `Cannot part channel "${channel}": not joined`,
        "part",
      );
    }
    for (const other of this.registry.part(peerId, channel)) {
      this.#sendTo(other, { event: "removePeer", data: { peer_id: peerId } });
      this.#send(session, { event: "removePeer", data: { peer_id: other } });
    }
    this.#send(session, { event: "parted", data: { channel } });
    this.#logger.log("debug", "part", { peer: peerId, channel });
  }

  #relay(
    session: PeerSession,
    event: string,
    target: string,
    message: ServerMessage,
  ) {
    if (!this.registry.shareChannel(session.peerId, target)) {
      return this.#error(
        session,
        "unknown_peer",
        `Cannot relay to peer "${target.slice(0, 64)}": not in a channel with you`,
        event,
      );
    }
    this.metrics.messagesRelayed++;
    this.#sendTo(target, message);
  }

  #error(
    session: PeerSession,
    code: ErrorCode,
    message: string,
    event?: string,
  ) {
    this.metrics.errors[code]++;
    this.#logger.log("debug", "refused", { peer: session.peerId, code });
    this.#send(session, {
      event: "error",
      data: event === undefined ? { code, message } : { code, message, event },
    });
  }

  #sendTo(peerId: string, message: ServerMessage) {
    const target = this.#sessions.get(peerId);
    if (target !== undefined) this.#send(target, message);
  }

  #send(session: PeerSession, message: ServerMessage) {
    if (session.closed) return;
    if (session.conn.bufferedAmount > this.#maxBuffered) {
      this.#logger.log("warn", "closing slow consumer", {
        peer: session.peerId,
      });
      this.#kick(session, CLOSE_CODES.tryAgainLater, "slow consumer");
      return;
    }
    try {
      session.conn.send(encode(message));
    } catch (error) {
      // The socket died under us; its close event will clean up.
      this.#logger.log("debug", "send failed", {
        peer: session.peerId,
        error: String(error),
      });
    }
  }

  #kick(session: PeerSession, code: number, reason: string, countIt = true) {
    if (countIt) this.metrics.connectionsKicked++;
    try {
      session.conn.close(code, reason);
    } catch {
      // Already closed: nothing to do but forget it.
    }
    this.disconnect(session);
  }
}
