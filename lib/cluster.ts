/**
 * What instances of one cluster share, and the seam they share it by.
 *
 * Rooms are replicated, not partitioned: every instance holds every room
 * (membership, hosts, lock, knocks, password hash, removed browsers,
 * retired ids, where each peer is connected) and changes them only by
 * applying {@linkcode Op}s in one order that every instance sees alike.
 * The same ops in the same order give the same decisions everywhere —
 * who is admitted to the last seat, who becomes host — with no lock and
 * no owner to fail over. Relays do not go through that order: they travel
 * straight to the instance holding the target's socket.
 *
 * On a single instance there is no bus: the hub applies each op the
 * moment it makes it. See docs/scaling.md.
 *
 * @module
 */

import { parsePasswordRecord, type PasswordRecord } from "./password.ts";
import {
  HOST_TARGET_EVENTS,
  type HostTargetEvent,
  isObject,
  isShortId,
  isUserData,
  isValidChannel,
  MAX_RESUME_CHANNELS,
  type ResumeChannel,
  ROOM_ALERTS,
  type RoomAlert,
  type UserData,
} from "./protocol.ts";

/** A change to the rooms, applied by every instance in the same order. */
export type Op = OpKind & {
  /**
   * Appended again after Redis restarted empty: instances that applied it
   * before may apply it twice, so what it refuses is not answered.
   */
  replayed?: boolean;
};

/** The room changes themselves. */
type OpKind =
  /** A `join`; `password` says whether one came (the text itself never leaves its instance). */
  | {
    op: "join";
    peer: string;
    /** The instance holding the peer's socket. */
    home: string;
    /** The home's reference for the answer (a password to check). */
    ref: number;
    channel: string;
    userdata: UserData;
    browser?: string;
    password: boolean;
    /**
     * The salt of the room's password record the join's password was
     * checked against: it names the record (a new password has a new salt)
     * without putting the hash in the shared log.
     */
    verified?: string;
  }
  | {
    op: "knock";
    peer: string;
    home: string;
    channel: string;
    userdata: UserData;
    browser?: string;
  }
  | { op: "part"; peer: string; channel: string }
  | { op: "lock"; peer: string; channel: string; locked: boolean }
  | { op: "setPassword"; peer: string; channel: string; record: PasswordRecord | null }
  | { op: "host"; peer: string; event: HostTargetEvent; channel: string; target: string }
  /**
   * Gone for good: Leave, a kick, or a resume window that passed. `home` is
   * where it was when that was decided, `generation` how many resumes it
   * had then: stale if it has moved or resumed since.
   */
  | { op: "leave"; peer: string; home: string; generation?: number }
  /** The peer's socket dropped; its home holds it for the resume window (stale as a leave is). */
  | { op: "away"; peer: string; home: string; generation?: number }
  /**
   * A connection proved the peer's identity on `home` (a resume), or its
   * home re-asserts it (`ref` 0) after the cluster lost track of it.
   */
  | {
    op: "resume";
    peer: string;
    home: string;
    ref: number;
    channels: ResumeChannel[];
    /** The browser id the resume carries: a room it rejoins as a newcomer checks it. */
    browser?: string;
    /**
     * How many resumes the identity had when this one was proposed: one
     * ordered after a newer resume (proposed by an instance that then died)
     * is stale, and changes nothing.
     */
    generation?: number;
  }
  /** Many wrong passwords were tried for `channel`: its hosts are told. */
  | { op: "alert"; channel: string; alert: RoomAlert }
  /**
   * The wait for restored rooms' members ends as of `at` (the proposer's
   * clock): every instance drops those not back, at the same point in the order.
   */
  | { op: "sweep"; at: number }
  /** An instance stopped answering: its peers are away until they resume elsewhere. */
  | { op: "dead"; instance: string };

/** How a hub shares its rooms with the other instances. */
export interface Bus {
  /** This instance's id: the `home` of the peers connected here. */
  readonly instance: string;
  /** Whether ops can be ordered now (the shared log is reachable). */
  readonly available: boolean;
  /** Why not, when not available (for `/healthz` and logs). */
  readonly problem: string | undefined;
  /**
   * Appends `op` to the shared order; the hub applies it when it comes
   * back. Kept and sent once the log is reachable again, if it is not now.
   */
  propose(op: Op): void;
  /**
   * Sends a frame's text to `peerId`, whose socket is on `instance`. It is
   * handed over there only once that instance has applied every op this
   * one had applied, so an `addPeer` is never overtaken by what follows it.
   * False when it could not be sent (the bus is unreachable).
   */
  send(instance: string, peerId: string, text: string): boolean;
}

/** What a {@linkcode Bus} calls back in the hub. */
export interface BusHandlers {
  /** Applies one op from the shared order. */
  apply(op: Op): void;
  /** A frame sent with {@linkcode Bus.send} arrived for a peer connected here. */
  deliver(peerId: string, text: string): void;
  /** Every room, for an instance that starts while others run. */
  exportState(): ClusterState;
  /** Replaces every room with another instance's (before any op is applied). */
  importState(state: ClusterState): void;
  /**
   * Starts from the rooms the cluster saved when no instance runs (every
   * one stopped): members come back by resuming, as after a restart alone.
   */
  restore(saved: { rooms: unknown[]; retired: [string, number][] }): void;
  /** The instances holding sockets of peers still in the rooms (their death must be noticed). */
  homes(): Set<string>;
  /** Proposes again every peer connected here: the shared order may have lost ops. */
  reassert(): void;
}

/** One peer as the cluster knows it. */
export interface PeerState {
  id: string;
  home: string;
  away: boolean;
  /** Its home died: any instance removes it when the resume window passes. */
  orphan: boolean;
  /** How many resumes it had (0 when absent). */
  generation?: number;
}

/** Everything the instances replicate, as one instance hands it to a new one. */
export interface ClusterState {
  peers: PeerState[];
  /** Channel → members in join order, with their userdata. */
  channels: [string, [string, UserData][]][];
  /** `authority.ts` snapshots of every room. */
  rooms: unknown[];
  /** Retired ids and until when. */
  retired: [string, number][];
}

function userdataOf(value: unknown): UserData | undefined {
  return isUserData(value) ? value : undefined;
}

function optionalGeneration(value: unknown): { generation?: number } | undefined {
  if (value === undefined) return {};
  return Number.isSafeInteger(value) && (value as number) >= 0
    ? { generation: value as number }
    : undefined;
}

function optionalBrowser(value: unknown): { browser?: string } | undefined {
  if (value === undefined) return {};
  return isShortId(value) ? { browser: value } : undefined;
}

/**
 * Rebuilds an op read from the shared log, field by field; undefined when
 * it is not one (another version's op, or corruption: skipped and logged).
 */
export function parseOp(value: unknown): Op | undefined {
  const op = parseOpOnly(value);
  // Appended again after Redis lost it: another instance may have applied it already.
  if (op !== undefined && isObject(value) && value.replayed === true) op.replayed = true;
  return op;
}

function parseOpOnly(value: unknown): Op | undefined {
  if (!isObject(value) || typeof value.op !== "string") return;
  const { peer, channel } = value;
  switch (value.op) {
    case "join": {
      const userdata = userdataOf(value.userdata);
      const browser = optionalBrowser(value.browser);
      // A record (before the salt alone was sent) is named by its salt: instances of both
      // versions read each other's joins while a cluster is upgraded one at a time.
      const verified = isObject(value.verified) ? value.verified.salt : value.verified;
      if (
        !isShortId(peer) || !isShortId(value.home) || !Number.isSafeInteger(value.ref) ||
        !isValidChannel(channel) || userdata === undefined || browser === undefined ||
        typeof value.password !== "boolean" ||
        (verified !== undefined && (typeof verified !== "string" || verified.length > 64))
      ) return;
      const op: Op = {
        op: "join",
        peer,
        home: value.home,
        ref: value.ref as number,
        channel,
        userdata,
        ...browser,
        password: value.password,
      };
      if (verified !== undefined) op.verified = verified;
      return op;
    }
    case "knock": {
      const userdata = userdataOf(value.userdata);
      const browser = optionalBrowser(value.browser);
      if (
        !isShortId(peer) || !isShortId(value.home) || !isValidChannel(channel) ||
        userdata === undefined ||
        browser === undefined
      ) return;
      return { op: "knock", peer, home: value.home, channel, userdata, ...browser };
    }
    case "part":
      return isShortId(peer) && isValidChannel(channel) ? { op: "part", peer, channel } : undefined;
    case "lock":
      return isShortId(peer) && isValidChannel(channel) && typeof value.locked === "boolean"
        ? { op: "lock", peer, channel, locked: value.locked }
        : undefined;
    case "setPassword": {
      const record = value.record === null ? null : parsePasswordRecord(value.record);
      return isShortId(peer) && isValidChannel(channel) && record !== undefined
        ? { op: "setPassword", peer, channel, record }
        : undefined;
    }
    case "host": {
      const event = HOST_TARGET_EVENTS.find((e) => e === value.event);
      return isShortId(peer) && isValidChannel(channel) && event !== undefined &&
          isShortId(value.target)
        ? { op: "host", peer, event, channel, target: value.target }
        : undefined;
    }
    case "leave":
    case "away": {
      const generation = optionalGeneration(value.generation);
      return isShortId(peer) && typeof value.home === "string" && generation !== undefined
        ? { op: value.op, peer, home: value.home, ...generation }
        : undefined;
    }
    case "resume": {
      if (
        !isShortId(peer) || !isShortId(value.home) || !Number.isSafeInteger(value.ref) ||
        !Array.isArray(value.channels) || value.channels.length > MAX_RESUME_CHANNELS
      ) return;
      const channels: ResumeChannel[] = [];
      for (const item of value.channels) {
        const userdata = isObject(item) ? userdataOf(item.userdata) : undefined;
        if (!isObject(item) || !isValidChannel(item.channel) || userdata === undefined) return;
        channels.push({ channel: item.channel, userdata });
      }
      const browser = optionalBrowser(value.browser);
      const generation = optionalGeneration(value.generation);
      if (browser === undefined || generation === undefined) return;
      return {
        op: "resume",
        peer,
        home: value.home,
        ref: value.ref as number,
        channels,
        ...browser,
        ...generation,
      };
    }
    case "sweep":
      return Number.isSafeInteger(value.at) ? { op: "sweep", at: value.at as number } : undefined;
    case "alert": {
      const alert = ROOM_ALERTS.find((a) => a === value.alert);
      return isValidChannel(channel) && alert !== undefined
        ? { op: "alert", channel, alert }
        : undefined;
    }
    case "dead":
      return isShortId(value.instance) ? { op: "dead", instance: value.instance } : undefined;
  }
}

/** Rebuilds a state handed over by another instance; undefined when it is not one. */
export function parseClusterState(value: unknown): ClusterState | undefined {
  if (
    !isObject(value) || !Array.isArray(value.peers) || !Array.isArray(value.channels) ||
    !Array.isArray(value.rooms) || !Array.isArray(value.retired)
  ) return;
  const peers: PeerState[] = [];
  for (const p of value.peers) {
    if (
      !isObject(p) || !isShortId(p.id) || typeof p.home !== "string" ||
      typeof p.away !== "boolean" ||
      typeof p.orphan !== "boolean"
    ) return;
    const generation = optionalGeneration(p.generation) ?? {};
    peers.push({ id: p.id, home: p.home, away: p.away, orphan: p.orphan, ...generation });
  }
  const channels: ClusterState["channels"] = [];
  for (const entry of value.channels) {
    if (!Array.isArray(entry) || !isValidChannel(entry[0]) || !Array.isArray(entry[1])) return;
    const members: [string, UserData][] = [];
    for (const member of entry[1]) {
      const userdata = Array.isArray(member) ? userdataOf(member[1]) : undefined;
      if (!Array.isArray(member) || !isShortId(member[0]) || userdata === undefined) return;
      members.push([member[0], userdata]);
    }
    channels.push([entry[0], members]);
  }
  const retired: [string, number][] = [];
  for (const entry of value.retired) {
    if (!Array.isArray(entry) || !isShortId(entry[0]) || typeof entry[1] !== "number") return;
    retired.push([entry[0], entry[1]]);
  }
  return { peers, channels, rooms: value.rooms, retired };
}
