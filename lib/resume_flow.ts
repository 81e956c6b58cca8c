/**
 * The resume flow: a `resume` frame's token is checked here, the identity
 * it proves is claimed through the shared order (the connection's later
 * frames waiting), and `resumed` applies the claim alike everywhere — an
 * away peer comes back, a connected one is replaced (second tab) or moves
 * to another instance, an unknown one (the server restarted) is recreated
 * and rejoins the rooms it names.
 *
 * @module
 */

import type { Authority } from "./authority.ts";
import type { Bus } from "./cluster.ts";
import type { Departures } from "./departures.ts";
import { type Link, PeerRecord } from "./link.ts";
import type { Logger } from "./log.ts";
import type { JoinOptions, Membership } from "./membership.ts";
import type { Metrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import { type ClientMessage, encodeAddPeer, type ResumeChannel } from "./protocol.ts";
import { allOf } from "./rate_limit.ts";
import type { Registry } from "./registry.ts";
import type { RelayGrants } from "./relay_grants.ts";
import { type Replica, type ResumeOp, type ResumeWaiting, stale } from "./replica.ts";
import type { Resume } from "./resume.ts";
import type { Steps } from "./steps.ts";
import { CLOSE_CODES } from "./wire.ts";

/** What a {@linkcode ResumeFlow} needs. */
export interface ResumeFlowOptions {
  peers: Peers;
  registry: Registry;
  authority: Authority;
  membership: Membership;
  resume: Resume;
  relays: RelayGrants;
  replica: Replica;
  departures: Departures;
  steps: Steps;
  bus: Bus | undefined;
  metrics: Metrics;
  logger: Logger;
  now(): number;
}

/** Resumes: the claim, and the claim applied. */
export class ResumeFlow {
  readonly #o: ResumeFlowOptions;

  constructor(options: ResumeFlowOptions) {
    this.#o = options;
  }

  /**
   * A `resume` frame: the token is checked, rooms this identity is not
   * known to have been in spend the join budget, then the identity is claimed.
   */
  request(
    link: Link,
    fresh: PeerRecord,
    { token, channels, browser }: Extract<ClientMessage, { event: "resume" }>["data"],
  ): void {
    const { peers, resume, registry } = this.#o;
    // Without a signer the claim below refuses first, saying resuming is off.
    if (resume.enabled && registry.channelsOf(fresh.id).size > 0) {
      return peers.error(fresh, "bad_request", "Cannot resume after joining a channel", "resume");
    }
    const now = this.#o.now();
    const claim = resume.claim(token, { now, current: fresh.id });
    if (!claim.ok) {
      return peers.error(
        fresh,
        "bad_token",
        `Cannot resume: ${claim.why}; continuing as a new peer`,
        "resume",
      );
    }
    // A token proves who, not where: a room this identity is not known to
    // have been in is a newcomer's join, and spends the join budget.
    const unknown = channels.filter(({ channel }) =>
      !registry.isMember(claim.peerId, channel) && !this.#o.authority.knows(channel, claim.peerId)
    );
    const budgets = allOf(unknown.map(() => link.limits.takeJoin(now)));
    this.#o.steps.spend(link, budgets, (granted) => {
      const refused = new Set(unknown.filter((_, i) => !granted[i]).map((c) => c.channel));
      for (const channel of refused) {
        peers.error(
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
    const { peers, bus } = this.#o;
    if (bus !== undefined && !bus.available) {
      // The client resumes again after a pause, and the peer stays held meanwhile.
      this.#o.logger.log("debug", "resume refused: cluster unreachable", { peer: fresh.id });
      return this.#o.departures.kick(
        fresh,
        CLOSE_CODES.tryAgainLater,
        "cluster unreachable; resume again",
      );
    }
    // The identity from `welcome` is given up for the proven one.
    peers.delete(fresh.id);
    this.#o.resume.forget(fresh.id);
    const ref = this.#o.replica.expect({ kind: "resume", link, fresh });
    link.wait();
    const op: ResumeOp = {
      op: "resume",
      peer,
      home: peers.self,
      ref,
      channels,
      generation: peers.get(peer)?.generation ?? 0,
    };
    if (browser !== undefined) op.browser = browser;
    this.#o.replica.propose(op);
  }

  /**
   * A resume applied. `waiting` is the connection that resumed, when it is
   * on this instance.
   */
  resumed(op: ResumeOp, waiting: ResumeWaiting | undefined): void {
    const { peers, resume, registry, departures, now } = this.#o;
    if (resume.isRetired(op.peer)) {
      // It left (or was removed) before its resume came through.
      if (waiting !== undefined) this.#refused(waiting);
      return;
    }
    let peer = peers.get(op.peer);
    if (peer !== undefined && stale(peer, op)) {
      // A newer resume of this identity came through first (its proposer
      // then died, and this one arrived late): it changes nothing.
      if (waiting !== undefined) this.#refused(waiting, "that peer resumed on another connection");
      return;
    }
    const restored = peer === undefined;
    if (peer === undefined) {
      peer = new PeerRecord(op.peer, op.home);
      peer.generation = op.generation ?? 0;
      peers.add(peer);
    }
    peer.generation++;
    // Back: a leave proposed for it before is stale, and a later one must go out.
    peer.leaving = false;
    const wasAway = peer.away;
    if (peer.home === peers.self && op.home !== peers.self) {
      // It moved to another instance. What was held for it here is dropped:
      // sent on, it would arrive after what its new home tells it (newer),
      // and its new home gives it the rooms as they are now instead.
      if (peer.link !== null) peers.dropLink(peer.link, CLOSE_CODES.replaced, "resumed elsewhere");
      resume.forget(peer.id);
      this.#o.relays.forget(peer.id);
    }
    // Its frames held while away were on the instance it left: lost if that one died.
    // (Or the rooms were taken from another instance after it moved here.)
    const moved = (!restored && peer.home !== op.home) || peer.owed;
    peer.owed = false;
    peer.home = op.home;
    peer.away = false;
    peer.shared = true;
    peer.known = true;
    departures.adopted(peer);
    const link = waiting?.link;
    // Connected here with no socket now: gone again before its resume came
    // through, or its connection was let go while it waited (this instance
    // took the rooms meanwhile). Held away once more, with the introductions
    // a move owes it held for its next resume.
    const socketless = op.home === peers.self &&
      (link === undefined ? peer.link === null : link.closed);
    if (socketless) {
      // A resume whose socket closed first starts a new window; one let go keeps its own.
      if (departures.holdAway(peer, link !== undefined)) {
        if (moved) this.#reintroduce(peer, registry.neighboursOf(peer.id));
        departures.proposeAway(peer);
      }
    } else if (link !== undefined) {
      if (peer.link !== null) {
        this.#o.logger.log("debug", "replaced by another connection", { peer: peer.id });
        peers.dropLink(peer.link, CLOSE_CODES.replaced, "resumed elsewhere");
      }
      peers.bind(peer, link);
      const held = resume.comeBack(peer.id);
      this.#o.metrics.resumes++;
      this.#o.logger.log("debug", "resumed", { peer: peer.id, away: wasAway });
      const others = registry.neighboursOf(peer.id);
      peers.send(peer, {
        event: "resumed",
        data: {
          peer_id: peer.id,
          channels: op.channels.map((c) => c.channel),
          restored,
          peers: others,
        },
      });
      for (const text of held ?? []) {
        peers.write(peer, text);
        if (!peers.holds(peer)) return this.#o.steps.drain(link); // kicked as a slow consumer
      }
      // Who came while it was away on another instance may never have been
      // introduced: everyone is, again (a known pair ignores it; they offer).
      if (moved) this.#reintroduce(peer, others);
    }
    this.#rejoin(op);
    if (link !== undefined && !link.closed && peers.holds(peer)) {
      peers.send(peer, { event: "session", data: { resume_token: resume.issue(peer.id, now()) } });
      // The client keeps its ICE configuration across a resume: a credential
      // comes only if this instance knows of none it holds (it moved here,
      // or the server restarted) and it has someone to relay to.
      if (peers.holds(peer) && peers.hasCompany(peer.id)) this.#o.relays.needed(peer.id);
    }
    // Back, or moved: what its neighbours sent to its old home may be lost with
    // it, so a connection to it that never came up negotiates again.
    if ((wasAway || moved) && peers.holds(peer)) {
      this.#o.membership.tellNeighbours(peer.id, { event: "peerBack", data: { peer_id: peer.id } });
    }
    if (link !== undefined) this.#o.steps.drain(link);
  }

  /**
   * After a restart the registry is empty: membership comes back from the
   * resuming clients. Known pairs keep their connections (clients ignore a
   * repeated addPeer), so roles never flip. Rooms it is known to have been
   * in take it back past a lock or a password; anywhere else it meets them
   * as any newcomer does.
   */
  #rejoin(op: ResumeOp) {
    const { registry, membership } = this.#o;
    const joined = op.channels.filter((c) => registry.isMember(op.peer, c.channel));
    for (const { channel, userdata } of op.channels) {
      if (joined.some((c) => c.channel === channel)) continue;
      const request: JoinOptions = { channel, userdata, quiet: true };
      if (op.browser !== undefined) request.browser = op.browser;
      membership.join(op.peer, request);
    }
  }

  /**
   * Sends `peer` an `addPeer` (the other offers) and a `peerBack` (a
   * connection that never came up negotiates again) for each of `others` it
   * shares a room with, then each of its rooms' state (and a host its
   * pending knocks): what its old home held for it never comes.
   */
  #reintroduce(peer: PeerRecord, others: string[]) {
    const { peers, registry, authority } = this.#o;
    for (const other of others) {
      const channel = [...registry.channelsOf(peer.id)].find((c) => registry.isMember(other, c));
      if (channel === undefined || !peers.holds(peer)) continue;
      const userdata = JSON.stringify(registry.userdataOf(other, channel) ?? {});
      peers.send(peer, encodeAddPeer(other, false, userdata));
      // What it sent through its old home may be lost too: the same, its side.
      peers.send(peer, { event: "peerBack", data: { peer_id: other } });
    }
    for (const channel of registry.channelsOf(peer.id)) {
      const state = authority.stateOf(channel);
      if (state !== undefined) peers.send(peer, { event: "roomState", data: state });
      if (authority.isHost(channel, peer.id)) {
        peers.send(peer, {
          event: "knocks",
          data: { channel, knocks: authority.knocksOf(channel) },
        });
      }
    }
  }

  /** The identity a resume claimed left (or resumed elsewhere) meanwhile: the connection goes on as new. */
  #refused({ link, fresh }: ResumeWaiting, why = "that peer has left") {
    this.#o.peers.add(fresh);
    this.#o.peers.error(
      fresh,
      "bad_token",
      `Cannot resume: ${why}; continuing as a new peer`,
      "resume",
    );
    this.#o.steps.drain(link);
  }
}
