/**
 * Where the Redis bus keeps things, and how long it waits: the names of
 * its keys and channels under the cluster's prefix, and every timing and
 * limit of the bus (the defaults of its options and the rest), each named
 * once here. docs/scaling.md lists the keys ("What Redis holds"); every
 * instance of a cluster must agree on them, so a change here is a change
 * of the cluster's protocol.
 *
 * @module
 */

/** The keys and channels of one cluster, under its prefix. */
export interface RedisKeys {
  /** The shared order of ops, a stream: each op as JSON in the field `op`. */
  readonly log: string;
  /** A sorted set: each live instance, scored with its last heartbeat (Redis's clock). */
  readonly instances: string;
  /** A hash: each live instance → the stream id it applied last (the trim waits for it). */
  readonly applied: string;
  /** When the last heartbeat of any instance ran (a stall of Redis is nobody's silence). */
  readonly beat: string;
  /** Redis's identity, set if missing: a new one means Redis restarted empty. */
  readonly epoch: string;
  /** After Redis restarted empty, a hash: each instance → the op it had applied last before. */
  readonly before: string;
  /** The rooms and retirements the cluster saved last, JSON. */
  readonly rooms: string;
  /** The rooms a running instance hands to starting instance `instance`. */
  state(instance: string): string;
  /** The pub/sub channel of `instance`: relays to it, hand-over requests and notices. */
  channel(instance: string): string;
}

/** The keys and channels of the cluster whose names start with `prefix`. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    log: `${prefix}log`,
    instances: `${prefix}instances`,
    applied: `${prefix}applied`,
    beat: `${prefix}beat`,
    epoch: `${prefix}epoch`,
    before: `${prefix}before`,
    rooms: `${prefix}rooms`,
    state: (instance) => `${prefix}state:${instance}`,
    channel: (instance) => `${prefix}instance:${instance}`,
  };
}

/** Prefix of every key and channel unless the options name another. */
export const DEFAULT_PREFIX = "mesh:";
/** How often an instance says it is alive, ms, unless the options say otherwise. */
export const DEFAULT_HEARTBEAT_MS = 1000;
/** Silence after which an instance is declared dead, ms, unless the options say otherwise. */
export const DEFAULT_DEAD_AFTER_MS = 5000;
/** Ops the stream keeps (about), unless the options say otherwise. */
export const DEFAULT_MAX_LOG_LENGTH = 100_000;
/** How long the stream keeps an op (about), ms, unless the options say otherwise. */
export const DEFAULT_MAX_LOG_AGE_MS = 600_000;
/** How long a starting instance waits for each running one's rooms, ms, unless the options say otherwise. */
export const DEFAULT_SYNC_TIMEOUT_MS = 3000;

/** Reconnecting to Redis waits this much longer at each try, ms… */
export const RECONNECT_STEP_MS = 100;
/** …up to this, ms. */
export const RECONNECT_MAX_MS = 1000;
/** While a starting instance cannot reach Redis, how often its log says so, ms. */
export const WAITING_LOG_MS = 5000;

/** Ops read from the stream at once. */
export const READ_COUNT = 1000;
/** How long one read waits for new ops before it asks again, ms. */
export const READ_BLOCK_MS = 1000;
/** After a read failed, how long before the next, ms. */
export const READ_RETRY_MS = 250;

/** When no running instance handed over its rooms, how long before all are asked again, ms. */
export const SYNC_RETRY_MS = 1000;
/** How long the rooms handed to a starting instance wait to be read, ms. */
export const HANDOVER_TTL_MS = 60_000;
/**
 * How long the rooms' saved copy outlives the last instance that wrote it,
 * ms: a whole cluster restarted within it keeps its hosts, locks and
 * passwords (its people resume within their tokens' life anyway).
 */
export const SAVED_ROOMS_TTL_MS = 600_000;

/** After Redis restarted empty, how long an instance looks for others that had read further, ms. */
export const BEHIND_CHECK_MS = 10_000;
/** How long the ops the instances had applied before Redis restarted empty are kept, ms. */
export const BEFORE_TTL_MS = 600_000;

/** Relayed frames wait at most this long for the ops they follow, ms. */
export const MAX_GATE_MS = 2000;
/** Relayed frames waiting for ops at once; beyond it the oldest go through. */
export const MAX_GATED = 10_000;
