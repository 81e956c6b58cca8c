/**
 * Builds the hub's modules and connects them (`hub.ts` says what each one
 * does and the path of a frame through them). Modules that call each other
 * both ways (the replica applies through departures, which propose through
 * the replica) are joined by closures read at call time, never during
 * construction.
 *
 * @module
 */

import { Authority, parseRoomSnapshots } from "./authority.ts";
import type { Bus, Op } from "./cluster.ts";
import { DEFAULTS } from "./config.ts";
import { Departures } from "./departures.ts";
import { Dispatch } from "./dispatch.ts";
import { Doors } from "./doors.ts";
import type { HubOptions } from "./hub_options.ts";
import { JoinFlow } from "./join_flow.ts";
import { type Logger, SILENT_LOGGER } from "./log.ts";
import { Membership } from "./membership.ts";
import { Metrics } from "./metrics.ts";
import { HashQueue } from "./password.ts";
import { Peers } from "./peers.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";
import { RateLimiter } from "./rate_limit.ts";
import type { Registry } from "./registry.ts";
import { Relay } from "./relay.ts";
import { RelayGrants } from "./relay_grants.ts";
import { Replica } from "./replica.ts";
import { Resume } from "./resume.ts";
import { ResumeFlow } from "./resume_flow.ts";
import { Resync } from "./resync.ts";
import { Steps } from "./steps.ts";
import { IceIssuer } from "./turn.ts";
import { CLOSE_CODES } from "./wire.ts";

/** The hub's modules, built and connected. */
export interface Wired {
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  newId: () => string;
  peers: Peers;
  limits: RateLimiter;
  resume: Resume;
  authority: Authority;
  departures: Departures;
  replica: Replica;
  joins: JoinFlow;
  relays: RelayGrants;
  dispatch: Dispatch;
  doors: Doors;
  bus: Bus | undefined;
  /** What follows the peer id in every `welcome`. */
  welcomeRest: string;
}

/** Builds a hub's modules from `options` around `registry`; `failed` logs a handler that threw. */
export function wire(
  options: HubOptions,
  registry: Registry,
  failed: (peerId: string, error: unknown) => void,
): Wired {
  const now = options.now ?? Date.now;
  const newId = options.newId ?? (() => crypto.randomUUID());
  const logger = options.logger ?? SILENT_LOGGER;
  const metrics = options.metrics ?? new Metrics();
  const windowMs = options.resumeWindowMs ?? DEFAULTS.resumeWindowSeconds * 1000;
  const limits = new RateLimiter(options);
  const resume = new Resume({ ...options, logger });
  const authority = new Authority({
    maxKnocksPerRoom: options.maxKnocksPerRoom,
    restored: options.rooms,
    restoreGraceMs: options.resumeWindowMs,
    now,
  });
  const failedOp = (error: unknown) => failed("", error);
  const bus: Bus | undefined = options.bus?.({
    apply: (op) => replica.applyGuarded(op),
    deliver: (peerId, text) => guarded(() => relay.arrived(peerId, text), failedOp),
    exportState: () => resync.exportState(),
    importState: (state) => {
      resync.importState(state);
      guarded(() => doors.settle(), failedOp);
    },
    restore: ({ rooms, retired }) => {
      authority.restore(parseRoomSnapshots(rooms));
      resume.addRetired(retired);
      guarded(() => doors.settle(), failedOp);
    },
    homes: () => {
      const homes = new Set<string>();
      for (const peer of peers.values()) if (!peer.orphan) homes.add(peer.home);
      return homes;
    },
    reassert: () => guarded(() => resync.reassert(), failedOp),
  });
  const peers: Peers = new Peers({
    self: bus?.instance ?? "",
    registry,
    resume,
    metrics,
    logger,
    maxBuffered: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
    // Kicked once the op whose frames it could not take is done.
    onSlow: (peer) =>
      replica.afterOp(
        peer,
        () => departures.kick(peer, CLOSE_CODES.tryAgainLater, "slow consumer"),
      ),
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
  const departures: Departures = new Departures({
    ...shared,
    limits,
    clustered,
    propose,
    windowMs,
    joinTimeoutMs: options.joinTimeoutMs ?? DEFAULTS.joinTimeoutSeconds * 1000,
  });
  const doors = new Doors({
    authority,
    send: (link, message) => {
      const peer = link.peer;
      if (link.closed || peer === null || peer.link !== link) return false;
      peers.send(peer, message);
      return true;
    },
  });
  const replica: Replica = new Replica({
    ...shared,
    departures,
    bus,
    settled: () => doors.settle(),
    passwordNeeded: ({ link, peer, request }, record) =>
      joins.checkPassword(link, peer, request, record),
    resumed: (op, waiting) => resumes.resumed(op, waiting),
    reassert: () => resync.reassert(),
    failed: failedOp,
  });
  const steps = new Steps({
    holds: (peer) => peers.holds(peer),
    dispatch: (link, peer, message) => dispatch.dispatch(link, peer, message),
    failed,
  });
  const passwords = options.passwords ?? new HashQueue({
    concurrency: options.passwordHashConcurrency,
    maxQueued: options.passwordHashQueue,
  });
  const alertEveryMs = options.passwordTryWindowMs ?? DEFAULTS.passwordTryWindowSeconds * 1000;
  const joins: JoinFlow = new JoinFlow({
    ...shared,
    steps,
    replica,
    passwords,
    alertEveryMs,
  });
  const flow = { ...shared, replica, departures, steps, bus };
  const resumes: ResumeFlow = new ResumeFlow(flow);
  const relay: Relay = new Relay(flow);
  const resync: Resync = new Resync(flow);
  const maxBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  const dispatch: Dispatch = new Dispatch({
    ...flow,
    joins,
    resumes,
    relay,
    doors,
    clustered,
    maxBytes,
  });
  const welcomeRest = `,"protocol":${PROTOCOL_VERSION},"ice_servers":${JSON.stringify(ice.public)}`;
  return {
    metrics,
    logger,
    now,
    newId,
    peers,
    limits,
    resume,
    authority,
    departures,
    replica,
    joins,
    relays,
    dispatch,
    doors,
    bus,
    welcomeRest,
  };
}

/** Runs a bus callback; like a frame handler it never throws. */
function guarded(fn: () => void, failed: (error: unknown) => void): void {
  try {
    fn();
  } catch (error) {
    failed(error);
  }
}
