/**
 * The replica: the only writer of room state. Every change — join, knock,
 * part, leave, away, resume, host actions, a dead instance, a sweep of
 * restored rooms — is an op (`cluster.ts`) proposed here and applied by
 * `apply` in one order, exactly alike with one instance or many: alone
 * from a local queue drained before the frame handler returns (an op
 * proposed while one applies — a slow consumer's kick — waits until that
 * one is done), in a cluster from the shared log. What an op's proposer
 * does once its own op comes back (answer a join, finish a resume) waits
 * here by the op's `ref`.
 *
 * @module
 */

import type { Authority } from "./authority.ts";
import type { Bus, Op } from "./cluster.ts";
import type { Departures } from "./departures.ts";
import { RETRY_OP_MS } from "./departures.ts";
import { type Link, PeerRecord } from "./link.ts";
import type { JoinOptions, Membership } from "./membership.ts";
import type { PasswordRecord } from "./password.ts";
import type { Peers } from "./peers.ts";
import type { JoinRequest } from "./protocol.ts";
import type { Resume } from "./resume.ts";

/** A connection waiting for its own op to come back through the shared order. */
export type Waiting =
  | {
    kind: "join";
    link: Link;
    peer: PeerRecord;
    /** With the password text, which never leaves this instance. */
    request: JoinRequest & { verified?: string };
  }
  | ResumeWaiting;

/** A resume waiting for its op. */
export interface ResumeWaiting {
  kind: "resume";
  link: Link;
  /** The identity from `welcome`, given up for the one the token proves. */
  fresh: PeerRecord;
}

/** A resume op. */
export type ResumeOp = Extract<Op, { op: "resume" }>;

/** What a {@linkcode Replica} needs. */
export interface ReplicaOptions {
  peers: Peers;
  authority: Authority;
  membership: Membership;
  resume: Resume;
  departures: Departures;
  bus: Bus | undefined;
  now(): number;
  /** A join came back needing its password checked (on the instance that made it). */
  passwordNeeded(waiting: Extract<Waiting, { kind: "join" }>, record: PasswordRecord): void;
  /** A resume applied; `waiting` is its connection when it is on this instance. */
  resumed(op: ResumeOp, waiting: ResumeWaiting | undefined): void;
  /** An op applied (its frames sent): those watching a door that changed hear it. */
  settled(): void;
  /** The cluster lost track of this instance's peers: they are asserted again. */
  reassert(): void;
  /** A handler threw (logged; the next op goes on). */
  failed(error: unknown): void;
}

/** Proposes ops and applies them, one at a time, in the shared order. */
export class Replica {
  readonly #o: ReplicaOptions;
  /** What this instance does once its own op comes back applied, by op `ref`. */
  readonly #waiting = new Map<number, Waiting>();
  #nextRef = 1;
  /** Alone: ops proposed and not applied yet, in order, and whether some are being applied. */
  #queued: Op[] = [];
  #applying = false;
  /** When a sweep of restored rooms was proposed last (until it comes back). */
  #sweepProposedAt = -Infinity;
  /** Above 0 while an op applies. */
  #depth = 0;
  /** What waits until the op applying now is done (a slow consumer's kick), once per peer. */
  readonly #afterOp = new Map<PeerRecord, () => void>();

  constructor(options: ReplicaOptions) {
    this.#o = options;
  }

  /** Remembers what to do when the op about to be proposed comes back; its `ref`. */
  expect(waiting: Waiting): number {
    const ref = this.#nextRef++;
    this.#waiting.set(ref, waiting);
    return ref;
  }

  /** Every connection waiting for its op; forgotten (the order moved on past them). */
  abandonWaiting(): Link[] {
    const links = [...this.#waiting.values()].map((w) => w.link);
    this.#waiting.clear();
    return links;
  }

  /** Whether room changes can be made now; if not, `peer` hears why. */
  reachable(peer: PeerRecord, event: string): boolean {
    const bus = this.#o.bus;
    if (bus === undefined || bus.available) return true;
    this.#o.peers.error(
      peer,
      "unavailable",
      `Cannot ${event}: this server cannot reach the rest of the cluster; try again in a moment`,
      event,
    );
    return false;
  }

  /** Alone, a change is applied at once; in a cluster, once the shared order brings it back. */
  propose(op: Op): void {
    if (this.#o.bus !== undefined) return this.#o.bus.propose(op);
    // Alone, the local order: applied before the frame handler returns, but
    // never inside another op's apply (a kick during a join's fan-out is a
    // leave applied after that join).
    this.#queued.push(op);
    if (this.#applying) return;
    this.#applying = true;
    try {
      for (let next = this.#queued.shift(); next !== undefined; next = this.#queued.shift()) {
        this.applyGuarded(next);
      }
    } finally {
      this.#applying = false;
    }
  }

  /** Applies an op; like a frame handler it never throws. */
  applyGuarded(op: Op): void {
    try {
      this.apply(op);
    } catch (error) {
      this.#o.failed(error);
    }
  }

  /** Applies one change to the rooms, exactly alike on every instance. */
  apply(op: Op): void {
    this.#depth++;
    try {
      // Applied again after Redis lost it (maybe applied before): nothing it refuses is answered.
      if (op.replayed) this.#o.peers.muted(() => this.#applyOne(op));
      else this.#applyOne(op);
    } finally {
      // Still inside the op: a slow watcher's kick waits until it is done.
      if (this.#depth === 1) this.#settle();
      if (--this.#depth === 0 && this.#afterOp.size > 0) this.#runAfterOp();
    }
  }

  /**
   * Runs `fn` for `peer` once the op applying now is done (at once if none
   * is): a send that closes a peer (a slow consumer) never cuts into the
   * op's fan-out. Asked twice for one peer during one op, it runs once.
   */
  afterOp(peer: PeerRecord, fn: () => void): void {
    if (this.#depth === 0) return fn();
    if (!this.#afterOp.has(peer)) this.#afterOp.set(peer, fn);
  }

  #settle() {
    try {
      this.#o.settled();
    } catch (error) {
      this.#o.failed(error);
    }
  }

  #runAfterOp() {
    for (const [peer, fn] of this.#afterOp) {
      this.#afterOp.delete(peer);
      try {
        fn();
      } catch (error) {
        this.#o.failed(error);
      }
    }
  }

  /** Proposes the sweep of restored rooms whose members did not come back. */
  tick(now: number): void {
    // Restored rooms stop waiting for their members by an op, so every
    // instance does it at the same point in the order; proposed again if it
    // never came back (an append Redis refused).
    if (now - this.#sweepProposedAt >= RETRY_OP_MS && this.#o.authority.sweepDue(now)) {
      this.#sweepProposedAt = now;
      this.propose({ op: "sweep", at: now });
    }
  }

  #applyOne(op: Op) {
    const { membership, departures, peers } = this.#o;
    switch (op.op) {
      case "join": {
        const waiting = this.#take(op.home, op.ref, "join");
        if (this.#adopt(op.peer, op.home) === undefined) return;
        const request: JoinOptions = { channel: op.channel, userdata: op.userdata };
        if (op.browser !== undefined) request.browser = op.browser;
        // The text stays with the home instance: the others only need to know one came.
        if (op.password) request.password = waiting?.request.password ?? "";
        if (op.verified !== undefined) request.verified = op.verified;
        const record = membership.join(op.peer, request);
        if (record !== undefined && waiting !== undefined) this.#o.passwordNeeded(waiting, record);
        return;
      }
      case "knock":
        if (this.#adopt(op.peer, op.home) === undefined) return;
        return membership.knock(op.peer, op);
      case "part":
        return membership.part(op.peer, op.channel);
      case "lock":
        return membership.lock(op.peer, op.channel, op.locked);
      case "setPassword":
        return membership.setPassword(op.peer, op.channel, op.record);
      case "host": {
        const { peer, event, channel, target } = op;
        const authority = this.#o.authority;
        // Removal takes every identity of the browser (another tab), not the host's own.
        const twins = event === "remove"
          ? authority.sameBrowser(channel, target).filter((id) => id !== peer)
          : [];
        const knock = event === "deny" ? authority.knockOf(channel, target) : undefined;
        if (!membership.hostAction(peer, { event, channel, target })) return;
        if (event === "remove") {
          for (const id of [target, ...twins]) departures.removeFromRoom(channel, id);
        }
        if (knock !== undefined) departures.turnedAway(channel, knock);
        return;
      }
      case "alert":
        return membership.alertHosts(op.channel, op.alert);
      case "sweep":
        this.#sweepProposedAt = -Infinity;
        return membership.sweep(op.at);
      case "leave": {
        const peer = peers.get(op.peer);
        // A leave proposed for a home the peer has moved from, or before it
        // resumed since, is stale.
        if (peer !== undefined && peer.home === op.home && !stale(peer, op)) {
          departures.forget(peer);
        }
        return;
      }
      case "away": {
        const peer = peers.get(op.peer);
        if (peer === undefined || peer.home !== op.home || peer.away || stale(peer, op)) return;
        peer.away = true;
        membership.tellNeighbours(peer.id, { event: "peerAway", data: { peer_id: peer.id } });
        return;
      }
      case "resume":
        return this.#o.resumed(op, this.#take(op.home, op.ref, "resume"));
      case "dead":
        // If it is this one, the cluster lost track of it while it was cut
        // off: its peers are asserted again.
        departures.homeDied(op.instance);
        if (op.instance === peers.self) this.#o.reassert();
        return;
    }
  }

  /** What this instance waits to do for its own op `ref`, if it made it. */
  #take<K extends Waiting["kind"]>(
    home: string,
    ref: number,
    kind: K,
  ): Extract<Waiting, { kind: K }> | undefined {
    if (home !== this.#o.peers.self) return;
    const waiting = this.#waiting.get(ref);
    this.#waiting.delete(ref);
    return waiting?.kind === kind ? waiting as Extract<Waiting, { kind: K }> : undefined;
  }

  /** The peer a join or knock is for, known from now on everywhere (unless it left). */
  #adopt(peerId: string, home: string): PeerRecord | undefined {
    const { peers } = this.#o;
    const known = peers.get(peerId);
    if (known !== undefined) known.known = true;
    if (known !== undefined || home === peers.self || this.#o.resume.isRetired(peerId)) {
      return known;
    }
    const peer = new PeerRecord(peerId, home);
    peer.shared = true;
    peer.known = true;
    peers.add(peer);
    return peer;
  }
}

/** Whether `op` was proposed before `peer`'s latest resume (an op without a count never is). */
export function stale(peer: PeerRecord, op: { generation?: number }): boolean {
  return op.generation !== undefined && op.generation < peer.generation;
}
