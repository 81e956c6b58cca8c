/**
 * Joins, knocks and passwords: a join is proposed as an op; into a room with
 * a password it comes back needing the password checked, which is hashed
 * (off the event loop, within the person's, the address's and the room's
 * budgets and the server's hashing queue) and the join proposed again once
 * it matched. A host's `setPassword` is hashed the same way before its op.
 *
 * @module
 */

import type { Link, PeerRecord } from "./link.ts";
import type { Logger } from "./log.ts";
import type { Membership } from "./membership.ts";
import type { Metrics } from "./metrics.ts";
import type { PasswordHashing, PasswordRecord } from "./password.ts";
import type { Peers } from "./peers.ts";
import type { JoinRequest, KnockRequest } from "./protocol.ts";
import type { PasswordTry } from "./rate_limit.ts";
import type { Op } from "./cluster.ts";
import type { Replica } from "./replica.ts";
import type { Steps } from "./steps.ts";

/** What a {@linkcode JoinFlow} needs. */
export interface JoinFlowOptions {
  peers: Peers;
  steps: Steps;
  replica: Replica;
  membership: Membership;
  passwords: PasswordHashing;
  metrics: Metrics;
  logger: Logger;
  now(): number;
  /** How often a room's hosts may be warned of wrong passwords, ms. */
  alertEveryMs: number;
}

/** A join request as it is proposed, with the password salt once it matched. */
export type Join = JoinRequest & { verified?: string };

/** Joins, knocks and password changes, up to their ops. */
export class JoinFlow {
  readonly #o: JoinFlowOptions;
  /** When each room's hosts were last warned of wrong passwords, ms. */
  readonly #alerted = new Map<string, number>();

  constructor(options: JoinFlowOptions) {
    this.#o = options;
  }

  /** Proposes a join; the connection's answer comes when it is applied. */
  join(link: Link, peer: PeerRecord, request: Join): void {
    const ref = this.#o.replica.expect({ kind: "join", link, peer, request });
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
    this.#o.replica.propose(op);
  }

  /**
   * A knock, within the address's few knocks on that door and unless this
   * person, address or browser was turned away from it a moment ago.
   */
  knock(link: Link, peer: PeerRecord, request: KnockRequest): void {
    const { channel, browser } = request;
    const verdict = link.limits.takeKnock(channel, { peerId: peer.id, browser }, this.#o.now());
    this.#o.steps.spend(link, verdict, (granted) => {
      if (!granted) {
        return this.#o.peers.error(
          peer,
          "rate_limited",
          `Cannot knock on channel "${channel}": knocked too often or turned away just now; wait a few minutes`,
          "knock",
        );
      }
      if (!this.#o.replica.reachable(peer, "knock")) return;
      peer.shared = true;
      this.#o.replica.propose({ op: "knock", peer: peer.id, home: peer.home, ...request });
    });
  }

  /**
   * The join came back needing its password checked against `record`:
   * first the tries (the person's, the address's, the room's), then a hash
   * from the connection's budget and a place in the hashing queue.
   */
  checkPassword(link: Link, peer: PeerRecord, request: Join, record: PasswordRecord): void {
    const { channel } = request;
    const { limits } = link;
    const { peers, now } = this.#o;
    this.#o.steps.spend(link, limits.takePasswordTry(channel, now()), (verdict: PasswordTry) => {
      if (verdict === "mine") {
        return peers.error(
          peer,
          "rate_limited",
          "Cannot join: too many wrong passwords; wait ten minutes",
          "join",
        );
      }
      if (verdict === "room") {
        this.#alertHosts(channel);
        return peers.error(
          peer,
          "rate_limited",
          `Cannot join channel "${channel}": many wrong passwords were tried for this room; wait a few minutes, or knock to ask a host`,
          "join",
        );
      }
      const start = () => this.#o.passwords.verify(request.password ?? "", record, limits.network);
      // Refused before any hash: the tries were not used.
      const unused = () => limits.returnPasswordTry(channel, now());
      this.#hash(link, peer, { event: "join", start, unused }, (right) => {
        if (!right) {
          return peers.error(peer, "wrong_password", "Cannot join: wrong password", "join");
        }
        limits.returnPasswordTry(channel, now());
        // The password may have changed meanwhile: then it is checked again.
        if (this.#o.replica.reachable(peer, "join")) {
          this.join(link, peer, { ...request, verified: record.salt });
        }
      });
    });
  }

  /** A host sets (hashed off the event loop) or clears a room's password. */
  setPassword(
    link: Link,
    peer: PeerRecord,
    { channel, password }: { channel: string; password: string | null },
  ): void {
    const { replica, now } = this.#o;
    if (!this.#o.membership.allowHost(peer.id, channel, "setPassword")) return;
    if (password === null) {
      return replica.propose({ op: "setPassword", peer: peer.id, channel, record: null });
    }
    this.#o.steps.spend(link, link.limits.takeSetPassword(now()), (granted) => {
      if (!granted) {
        return this.#o.peers.error(
          peer,
          "rate_limited",
          "Cannot set a password: changed too often; wait a minute",
          "setPassword",
        );
      }
      const start = () => this.#o.passwords.hash(password, link.limits.network);
      const unused = () => link.limits.returnSetPassword(now());
      this.#hash(link, peer, { event: "setPassword", start, unused }, (record) => {
        if (replica.reachable(peer, "setPassword")) {
          replica.propose({ op: "setPassword", peer: peer.id, channel, record });
        }
      });
    });
  }

  /** Forgets when rooms' hosts were warned, once the window passed. */
  tick(now: number): void {
    for (const [channel, at] of this.#alerted) {
      if (now - at >= this.#o.alertEveryMs) this.#alerted.delete(channel);
    }
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
      unused: () => void;
    },
    then: (value: T) => void,
  ) {
    const what = event === "join" ? "join" : "set a password";
    const { peers, now } = this.#o;
    this.#o.steps.spend(link, link.limits.takeHash(now()), (granted) => {
      if (!granted) {
        unused();
        return peers.error(
          peer,
          "rate_limited",
          `Cannot ${what}: too many passwords checked for this connection; wait a minute`,
          event,
        );
      }
      const work = start();
      if (work === undefined) {
        // Nothing was hashed: the budgets get back what they gave.
        link.limits.returnHash(now());
        unused();
        this.#o.metrics.passwordHashesRefused++;
        return peers.error(
          peer,
          "rate_limited",
          `Cannot ${what}: the server is busy checking passwords; try again in a moment`,
          event,
        );
      }
      this.#o.steps.after(link, work, then);
    });
  }

  /**
   * The room's wrong-password budget ran out: its hosts hear it, once per
   * window (every instance's hosts, through the shared order).
   */
  #alertHosts(channel: string) {
    const now = this.#o.now();
    const last = this.#alerted.get(channel);
    if (last !== undefined && now - last < this.#o.alertEveryMs) return;
    this.#alerted.set(channel, now);
    this.#o.logger.log("warn", "many wrong passwords tried for a room", { channel });
    this.#o.replica.propose({ op: "alert", channel, alert: "wrong_passwords" });
  }
}
