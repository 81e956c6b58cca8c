/**
 * The settings and collaborators a {@linkcode Hub} is built with.
 *
 * @module
 */

import type { RoomSnapshot } from "./authority.ts";
import type { Bus, BusHandlers } from "./cluster.ts";
import type { Logger } from "./log.ts";
import type { RoomLimits } from "./membership.ts";
import type { Metrics } from "./metrics.ts";
import type { PasswordHashing } from "./password.ts";
import type { IceServer } from "./protocol.ts";
import type { RateLimitOptions } from "./rate_limit.ts";
import type { ResumeOptions } from "./resume.ts";
import type { IceTransportPolicy, TurnSettings } from "./turn.ts";

/** Limits and collaborators of a `Hub`; every field has a default. */
export interface HubOptions extends RateLimitOptions, ResumeOptions, RoomLimits {
  /**
   * ICE servers (`ICE_SERVERS`). `welcome` carries those without
   * credentials; `joined` carries them all. Default `[]`.
   */
  iceServers?: IceServer[];
  /** TURN REST API settings: each member gets its own expiring credential. */
  turn?: TurnSettings;
  /** Passed to members with their servers. Default `all`. */
  iceTransportPolicy?: IceTransportPolicy;
  /** Largest accepted frame in bytes. Default 65,536. */
  maxMessageBytes?: number;
  /** Bytes queued to a socket before it is closed as a slow consumer. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * How long a connection may stay without joining or resuming before it
   * is closed with 1008, ms: a socket that never takes part only holds
   * memory. Default 15,000 (clients join right after `welcome`).
   */
  joinTimeoutMs?: number;
  /** Wall clock in ms since the epoch (tokens outlive the process). Default `Date.now`. */
  now?: () => number;
  /** Source of peer ids. Default `crypto.randomUUID`. */
  newId?: () => string;
  /** Default: writes nothing. */
  logger?: Logger;
  /** Default: a fresh {@linkcode Metrics}. */
  metrics?: Metrics;
  /** Rooms' authority saved before a restart (`saved_rooms.ts`); kept a resume window. */
  rooms?: RoomSnapshot[];
  /** Pending knocks one room holds. Default 50. */
  maxKnocksPerRoom?: number;
  /**
   * Hashes and checks room passwords. Default: a `HashQueue` of
   * `passwordHashConcurrency` (1) at a time and `passwordHashQueue` (8) waiting.
   */
  passwords?: PasswordHashing;
  /** Password hashes run at once (with the default `passwords`). Default 1. */
  passwordHashConcurrency?: number;
  /** Password hashes waiting (with the default `passwords`). Default 8. */
  passwordHashQueue?: number;
  /**
   * Shares rooms with other instances (`cluster.ts`): called once with the
   * hub's handlers. Default none: this hub is the whole service.
   */
  bus?: (handlers: BusHandlers) => Bus;
}
