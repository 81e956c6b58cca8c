/**
 * Frame intake and dispatch: a connection's frame passes the frame budget,
 * the size limit and the parser, waits behind the connection's running
 * step if one runs, and goes to its handler — the join flow, the resume
 * flow, the relay, the door question (`doors.ts`), or straight to an op. A closed connection leaves (a
 * deliberate close) or goes away for the resume window (a drop).
 *
 * @module
 */

import type { Departures } from "./departures.ts";
import type { Doors } from "./doors.ts";
import type { JoinFlow } from "./join_flow.ts";
import type { Link, PeerRecord } from "./link.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import {
  type ClientMessage,
  type DoorRequest,
  parseClientMessage,
  utf8Length,
} from "./protocol.ts";
import type { Relay } from "./relay.ts";
import type { Replica } from "./replica.ts";
import type { Resume } from "./resume.ts";
import type { ResumeFlow } from "./resume_flow.ts";
import type { Steps } from "./steps.ts";
import { CLOSE_CODES } from "./wire.ts";

/** What a {@linkcode Dispatch} needs. */
export interface DispatchOptions {
  peers: Peers;
  replica: Replica;
  departures: Departures;
  joins: JoinFlow;
  resumes: ResumeFlow;
  doors: Doors;
  relay: Relay;
  steps: Steps;
  resume: Resume;
  /** Whether other instances share the rooms. */
  clustered: boolean;
  /** Largest accepted frame in bytes. */
  maxBytes: number;
  metrics: Metrics;
  logger: Logger;
  now(): number;
}

/** Takes a connection's frames and its close. */
export class Dispatch {
  readonly #o: DispatchOptions;
  // The hot path's collaborators, read on every frame.
  readonly #peers: Peers;
  readonly #metrics: Metrics;
  readonly #now: () => number;
  readonly #maxBytes: number;
  readonly #relay: Relay;

  constructor(options: DispatchOptions) {
    this.#o = options;
    this.#peers = options.peers;
    this.#metrics = options.metrics;
    this.#now = options.now;
    this.#maxBytes = options.maxBytes;
    this.#relay = options.relay;
  }

  /** One frame from `link`. */
  frame(link: Link, data: unknown): void {
    const peer = link.peer;
    if (peer === null) return;
    const peers = this.#peers;
    const maxBytes = this.#maxBytes;
    this.#metrics.messagesReceived++;
    // Rate limit first: a flood must cost as little as possible.
    const verdict = link.limits.takeFrame(this.#now());
    if (verdict !== "accept") {
      if (verdict === "abusive") {
        this.#o.logger.log("warn", "closing abusive connection", { peer: peer.id });
        return this.#o.departures.kick(peer, CLOSE_CODES.policyViolation, "rate limit exceeded");
      }
      return peers.error(peer, "rate_limited", "Slow down: too many messages");
    }
    if (typeof data !== "string") {
      return peers.error(
        peer,
        "bad_message",
        "Cannot parse frame: binary frames are not accepted",
      );
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: only frames near the
    // limit are measured exactly (the regex showed up in profiles).
    if (data.length > maxBytes || (data.length * 3 > maxBytes && utf8Length(data) > maxBytes)) {
      return peers.error(
        peer,
        "message_too_large",
        `Cannot handle frame: larger than ${maxBytes} bytes`,
      );
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) return peers.error(peer, parsed.code, parsed.message, parsed.event);
    if (link.busy) {
      // Behind an async step: handled in order once it is done.
      if (!link.queue(parsed.value)) {
        peers.error(peer, "rate_limited", "Slow down: still handling an earlier request");
      }
      return;
    }
    this.dispatch(link, peer, parsed.value);
  }

  /** The transport closed: a deliberate close leaves, an abnormal one goes away. */
  closed(link: Link, deliberate: boolean): void {
    const { peers, resume, departures } = this.#o;
    this.#o.doors.drop(link);
    const peer = link.peer;
    if (peer === null || peer.link !== link) return; // replaced or kicked
    peers.unbind(link);
    // A welcome identity given up for a resume still on its way: nothing to hold.
    if (!peers.holds(peer)) return;
    if (deliberate || !resume.enabled) {
      this.#o.logger.log("debug", "disconnect", { peer: peer.id });
      return departures.leave(peer);
    }
    if (!departures.holdAway(peer)) return; // too many away: it left
    this.#o.logger.log("debug", "away", { peer: peer.id });
    if (peer.shared || !this.#o.clustered) departures.proposeAway(peer);
  }

  /** A parsed frame, in its turn. */
  dispatch(link: Link, peer: PeerRecord, message: ClientMessage): void {
    // A door question is not speaking: an idle pre-join socket still meets
    // the join timeout, and a `resume` after it is still the first frame.
    if (message.event === "door") return this.#askDoor(link, peer, message.data);
    const first = link.speak();
    // Most frames are relays: straight on.
    if (message.event === "relayICECandidate" || message.event === "relaySessionDescription") {
      return this.#relay.relay(peer, message);
    }
    const { peers, replica, joins } = this.#o;
    if (message.event === "resume" && !first) {
      return peers.error(
        peer,
        "bad_request",
        "Cannot resume: resume must be the first frame on a connection",
        "resume",
      );
    }
    // Asking for a room ends the watch on its door.
    if (message.event === "join" || message.event === "knock" || message.event === "resume") {
      this.#o.doors.drop(link);
    }
    switch (message.event) {
      case "join":
      case "knock":
        // A knock is a try at a room too: both spend the join budget.
        return this.#o.steps.spend(link, link.limits.takeJoin(this.#o.now()), (granted) => {
          if (!granted) {
            return peers.error(
              peer,
              "rate_limited",
              `Cannot ${message.event}: too many join attempts; wait a minute`,
              message.event,
            );
          }
          if (!replica.reachable(peer, message.event)) return;
          if (message.event === "join") return joins.join(link, peer, message.data);
          joins.knock(link, peer, message.data);
        });
      case "lock":
        if (!replica.reachable(peer, message.event)) return;
        return replica.propose({ op: "lock", peer: peer.id, ...message.data });
      case "setPassword":
        if (!replica.reachable(peer, message.event)) return;
        return joins.setPassword(link, peer, message.data);
      case "makeHost":
      case "mute":
      case "admit":
      case "deny":
      case "remove": {
        if (!replica.reachable(peer, message.event)) return;
        const { channel, peer_id: target } = message.data;
        return replica.propose({
          op: "host",
          peer: peer.id,
          event: message.event,
          channel,
          target,
        });
      }
      case "part":
        if (!replica.reachable(peer, message.event)) return;
        return replica.propose({ op: "part", peer: peer.id, channel: message.data.channel });
      case "resume":
        return this.#o.resumes.request(link, peer, message.data);
    }
  }

  /**
   * What stands at `channel`'s door, answered and then watched: it costs a
   * join from the connection's and the address's budget, as the join it
   * stands for would.
   */
  #askDoor(link: Link, peer: PeerRecord, request: DoorRequest): void {
    const { channel } = request;
    const { peers, replica, doors } = this.#o;
    this.#o.steps.spend(link, link.limits.takeJoin(this.#o.now()), (granted) => {
      if (!granted) {
        return peers.error(
          peer,
          "rate_limited",
          `Cannot ask at channel "${channel}": too many join attempts; wait a minute`,
          "door",
        );
      }
      if (replica.reachable(peer, "door")) doors.ask(link, request);
    });
  }
}
