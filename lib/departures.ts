/**
 * How a peer ends, in one place: `leave` proposes its leave (Leave, a kick,
 * its window passed), `forget` is that leave applied, `kick` closes its
 * socket for a policy reason first, `removeFromRoom` is a host's removal
 * applied; and peers whose home instance died are removed by any instance
 * once their window passed (`homeDied`, `tick`).
 *
 * @module
 */

import type { Knock } from "./authority.ts";
import type { Op } from "./cluster.ts";
import type { Logger } from "./log.ts";
import type { Membership } from "./membership.ts";
import type { Metrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { RelayGrants } from "./relay_grants.ts";
import type { Registry } from "./registry.ts";
import type { Resume } from "./resume.ts";
import type { PeerRecord } from "./link.ts";
import { CLOSE_CODES, CLOSE_REASONS } from "./wire.ts";

/** How long an op this instance proposed may take to come back before it is proposed again, ms. */
export const RETRY_OP_MS = 10_000;

/** What {@linkcode Departures} needs. */
export interface DeparturesOptions {
  peers: Peers;
  resume: Resume;
  relays: RelayGrants;
  membership: Membership;
  limits: RateLimiter;
  /** Whether other instances share the rooms. */
  clustered: boolean;
  propose(op: Op): void;
  now(): number;
  windowMs: number;
  /** How long a connection may stay without joining or resuming, ms. */
  joinTimeoutMs: number;
  registry: Registry;
  metrics: Metrics;
  logger: Logger;
}

/** Ends peers: proposes their leaves and applies them. */
export class Departures {
  readonly #o: DeparturesOptions;
  /** Peers whose home died, and when to propose their leave. */
  readonly #orphans = new Map<string, number>();

  constructor(options: DeparturesOptions) {
    this.#o = options;
  }

  /**
   * A peer connected here leaves for good (Leave, a kick, its window
   * passed), once its leave comes back through the shared order (it sends
   * nothing meanwhile).
   */
  leave(peer: PeerRecord): void {
    const { peers, now } = this.#o;
    if (!peers.holds(peer)) return;
    // A leave on its way is proposed again only if it never came back (an append Redis refused).
    if (peer.leaving && now() - peer.leavingAt < RETRY_OP_MS) return;
    // In a cluster, one the others never knew (it never joined) is nobody's business but ours.
    if (this.#o.clustered && !peer.shared) return this.forget(peer);
    peer.leaving = true;
    peer.leavingAt = now();
    // What is held for it stays until the leave applies: a resume ordered
    // before it wins, and must get those frames.
    this.#o.propose({ op: "leave", peer: peer.id, home: peer.home, generation: peer.generation });
  }

  /**
   * `peer`'s socket is gone but it may come back: it is held away for its
   * resume window — a new one, unless `renew` is false and it is away
   * already. False when it cannot be (too many away): then it leaves.
   */
  holdAway(peer: PeerRecord, renew = true): boolean {
    const { resume, now } = this.#o;
    if ((!renew && resume.isAway(peer.id)) || resume.goAway(peer.id, now())) return true;
    this.leave(peer);
    return false;
  }

  /** Tells every instance that `peer` is away (its neighbours hear `peerAway`). */
  proposeAway(peer: PeerRecord): void {
    this.#o.propose({ op: "away", peer: peer.id, home: peer.home, generation: peer.generation });
  }

  /** Closes a peer's connection for a policy reason, and it leaves. */
  kick(peer: PeerRecord, code: number, reason: string): void {
    this.#o.metrics.connectionsKicked++;
    if (peer.link !== null) this.#o.peers.dropLink(peer.link, code, reason);
    this.leave(peer);
  }

  /** Forgets a peer for good (its leave applied): everyone it shared a channel with is told. */
  forget(peer: PeerRecord): void {
    const { peers, resume } = this.#o;
    if (!peers.holds(peer)) return;
    peers.delete(peer.id);
    this.#o.relays.forget(peer.id);
    this.#orphans.delete(peer.id);
    // Retired alike everywhere, or not at all: in a cluster an identity the
    // others never knew (it never joined) is forgotten here only, and a
    // resume of it elsewhere must find it free on every instance.
    if (!this.#o.clustered || peer.shared) resume.retire(peer.id, this.#o.now());
    else resume.forget(peer.id);
    if (peer.link !== null) {
      // The cluster gave it up while this instance was cut off.
      peers.dropLink(peer.link, CLOSE_CODES.tryAgainLater, "left the room meanwhile");
    }
    this.#o.membership.leaveAll(peer.id);
  }

  /** Forgets a peer this instance no longer sees in the rooms (taken from another instance). */
  drop(peer: PeerRecord): void {
    this.#o.peers.delete(peer.id);
    this.#orphans.delete(peer.id);
    this.#o.relays.forget(peer.id);
    this.#o.resume.forget(peer.id);
  }

  /**
   * A host removed `targetId` from `channel`: it hears `removed`, its
   * socket closes with 4003 at once, and it leaves like a Leave (everyone
   * hears `removePeer`, its identity is retired: no resume).
   */
  removeFromRoom(channel: string, targetId: string): void {
    const { peers } = this.#o;
    const target = peers.get(targetId);
    if (target === undefined) return;
    this.#o.logger.log("debug", "removed by a host", { peer: targetId });
    peers.send(target, { event: "removed", data: { channel } });
    if (target.link !== null) peers.dropLink(target.link, CLOSE_CODES.removed, "removed by a host");
    this.forget(target);
  }

  /**
   * A knock on `channel` was denied: its person, their address and their
   * browser wait to knock there again, connected now or away (the home
   * instance, which knows the address, records it).
   */
  turnedAway(channel: string, { peerId, browser }: Knock): void {
    const peer = this.#o.peers.get(peerId);
    if (!this.#o.peers.isMine(peer)) return;
    this.#o.limits.denied(channel, { peerId, address: peer.address, browser }, this.#o.now());
  }

  /**
   * An instance stopped answering: its peers are away (their clients
   * resume on another instance) and any instance removes those that do
   * not come back within the window.
   */
  homeDied(instance: string): void {
    for (const peer of this.#o.peers.list()) {
      if (peer.home !== instance || peer.orphan) continue;
      this.orphaned(peer);
      if (peer.away) continue;
      peer.away = true;
      this.#o.membership.tellNeighbours(peer.id, { event: "peerAway", data: { peer_id: peer.id } });
    }
  }

  /** `peer`'s home died: it is removed unless it resumes within the window. */
  orphaned(peer: PeerRecord): void {
    peer.orphan = true;
    this.#orphans.set(peer.id, this.#o.now() + this.#o.windowMs);
  }

  /** `peer` is no longer an orphan (it resumed somewhere). */
  adopted(peer: PeerRecord): void {
    peer.orphan = false;
    this.#orphans.delete(peer.id);
  }

  /**
   * Ends peers whose time ran out: away ones whose resume window passed,
   * connections that never joined, and orphans whose window passed (every
   * instance proposes those; the first applied wins, the rest find nobody).
   */
  tick(now: number): void {
    const { peers, resume, registry, logger } = this.#o;
    for (const peer of peers.list()) {
      const link = peer.link;
      if (resume.windowPassed(peer.id, now)) {
        logger.log("debug", "resume window passed", { peer: peer.id });
        this.leave(peer);
      } else if (
        link !== null && now - link.openedAt >= this.#o.joinTimeoutMs &&
        registry.channelsOf(peer.id).size === 0 && !link.spoken
      ) {
        logger.log("debug", "closing a connection that never joined", { peer: peer.id });
        this.kick(peer, CLOSE_CODES.policyViolation, CLOSE_REASONS.joinTimeout);
      }
    }
    for (const [id, deadline] of this.#orphans) {
      const peer = peers.get(id);
      if (peer === undefined || !peer.orphan) {
        this.#orphans.delete(id);
      } else if (now >= deadline) {
        logger.log("debug", "resume window passed (home died)", { peer: id });
        this.#orphans.set(id, now + this.#o.windowMs);
        this.#o.propose({ op: "leave", peer: id, home: peer.home, generation: peer.generation });
      }
    }
  }
}
