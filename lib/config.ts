/**
 * Server configuration from environment variables and `--flags`, one table
 * and nothing else: the settings — the resolved {@linkcode Config}, every
 * default ({@linkcode DEFAULTS}, the limits no variable sets included), and
 * each setting's variable, parser and default — with the value parsers that
 * table names and the code that reads it. Every value is checked at start;
 * a bad one stops the server with a message naming the variable, instead
 * of failing later under load.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { type IceServer, parseIceServer } from "./protocol.ts";
import type { IceTransportPolicy, TurnSettings } from "./turn.ts";

/** The resolved configuration. */
export interface Config {
  port: number;
  host: string;
  iceServers: IceServer[];
  maxPeersPerChannel: number;
  maxChannelsPerPeer: number;
  maxMessageBytes: number;
  rateBurst: number;
  ratePerSecond: number;
  idleTimeoutSeconds: number;
  /** Extra origins allowed to open `/ws`, besides the page's own. */
  allowedOrigins: string[];
  /**
   * The one origin this server is reached at (`https://meet.example.org`),
   * when known: then Origin must match it exactly (scheme included) and
   * every request's Host must be its host — DNS rebinding is refused.
   */
  publicOrigin?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: LogLevel;
  /** Secret for resume tokens; when unset one is generated into `dataDir`. */
  sessionSecret?: string;
  /** Where generated state (the session secret) is kept. */
  dataDir: string;
  /** Seconds a dropped peer is held before the others are told it left. */
  resumeWindowSeconds: number;
  /** Seconds a resume token stays valid (refreshed at half-life). */
  resumeTokenTtlSeconds: number;
  /** Open and opening WebSockets in all. */
  maxConnections: number;
  /** Open and opening WebSockets from one client address. */
  maxConnectionsPerAddress: number;
  /** Take the client address from `X-Forwarded-For` (only behind a proxy that sets it). */
  trustProxy: boolean;
  /** Join attempts one connection may make in a burst (its address: 10×). */
  joinBurst: number;
  /** Join attempts per minute after the burst (its address: 10×). */
  joinsPerMinute: number;
  /** Peers held away at once. */
  maxAwayPeers: number;
  /** TURN credentials minted for one address per hour (a CGNAT or an office shares it). */
  turnCredentialsPerHour: number;
  /** Password hashes run at once (one core each while it runs). */
  passwordHashConcurrency: number;
  /** Bearer token `/metrics` requires; unset leaves it open. */
  metricsToken?: string;
  /** Serve the client's source map (`deno task dev` does; production does not). */
  sourceMap: boolean;
  /** TURN REST API settings; credentials are minted per session when set. */
  turn?: TurnSettings;
  /** `relay`: browsers use only TURN, so peers never learn each other's addresses. */
  iceTransportPolicy: IceTransportPolicy;
  /** Instances sharing this Redis share rooms (docs/scaling.md); unset: this process alone. */
  redisUrl?: string;
}

/** The seed's STUN server: fine for tests on one LAN, not behind strict NATs. */
export const DEFAULT_ICE_SERVERS: IceServer[] = [{
  urls: "stun:stun.l.google.com:19302",
}];

/**
 * Every default, once: the settings table below and the hub, the rate
 * limiter, the resume keeper and the HTTP layer all read their defaults
 * here, so a changed default cannot disagree with its documentation.
 */
export const DEFAULTS = {
  port: 8000,
  host: "0.0.0.0",
  /** A mesh uploads N-1 streams: eight people is about what a laptop carries. */
  maxPeersPerChannel: 8,
  maxChannelsPerPeer: 8,
  maxMessageBytes: 64 * 1024,
  /** Enough for a join into a full room with ICE gathering. */
  rateBurst: 500,
  ratePerSecond: 100,
  /** Rate-refused frames, without a pause, before a connection is closed. */
  abuseLimit: 1000,
  /** Bytes queued to a socket before it is closed as a slow consumer. */
  maxBufferedBytes: 1024 * 1024,
  idleTimeoutSeconds: 30,
  dataDir: ".data",
  resumeWindowSeconds: 25,
  resumeTokenTtlSeconds: 120,
  /** Frames and bytes held for an away peer. */
  maxHeldMessages: 200,
  maxHeldBytes: 256 * 1024,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 50,
  joinBurst: 10,
  joinsPerMinute: 10,
  maxAwayPeers: 1000,
  /** Clients join right after `welcome`; a socket that never does only holds memory. */
  joinTimeoutSeconds: 15,
  /** PBKDF2-SHA-256 iterations for room passwords (the hash runs off the event loop). */
  passwordIterations: 100_000,
  /** Password attempts one connection may make per `passwordTryWindowSeconds`. */
  passwordTriesPerConnection: 5,
  /** Password attempts all connections from one address may make per window. */
  passwordTriesPerAddress: 20,
  /** Wrong passwords tried against one room per window, whoever tries; then newcomers wait. */
  passwordTriesPerRoom: 20,
  passwordTryWindowSeconds: 600,
  /**
   * Password hashes run at once: each PBKDF2 holds a core for tens of ms,
   * and unbounded they starved the event loop (issue 22: a join took 10 s).
   */
  passwordHashConcurrency: 1,
  /** Hashes waiting for a free slot; more are refused with rate_limited. */
  passwordHashQueue: 8,
  /** Hashes one network (an IPv4 address, an IPv6 /48) may have running or waiting at once. */
  passwordHashesPerGroup: 2,
  /** Wrong passwords one address may try against one room per window: spending a room's budget takes several networks. */
  passwordTriesPerAddressPerRoom: 5,
  /** Hashes (joins with a password, setPassword) one connection may cause per minute (address: 10×). */
  hashesPerMinute: 6,
  /** `setPassword`s one connection may make per minute (address: 10×). */
  setPasswordsPerMinute: 3,
  /** Pending knocks one room holds; more are refused with rate_limited. */
  maxKnocksPerRoom: 50,
  /** Knocks one address may make on one room per ten minutes (colleagues behind one NAT). */
  knocksPerRoom: 5,
  /** Seconds a denied knocker (person, address or browser) waits to knock that room again. */
  deniedWaitSeconds: 60,
  /** Seconds a minted TURN credential is valid (renewed in a call before it ends). */
  turnTtlSeconds: 3600,
  /** TURN credentials minted for one address per hour (renewals in a call are free). */
  turnCredentialsPerHour: 10,
} as const;

type Parser<T> = (raw: string, name: string) => T;

function integer(min: number, max: number): Parser<number> {
  return (raw, name) => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      throw new TypeError(
        `Invalid ${name} "${raw}": expected an integer from ${min} to ${max}`,
      );
    }
    return value;
  };
}

const iceServers: Parser<IceServer[]> = (raw, name) => {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new TypeError(
      `Invalid ${name}: not JSON (expected a JSON array of RTCIceServer)`,
    );
  }
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Invalid ${name}: expected a JSON array of RTCIceServer`,
    );
  }
  return value.map((entry, i) => {
    const server = parseIceServer(entry);
    if (server === undefined) {
      throw new TypeError(
        `Invalid ${name}[${i}]: expected {urls: "stun:…"|"turn:…"|"turns:…" or an array of them, username?, credential?}`,
      );
    }
    return server;
  });
};

const origins: Parser<string[]> = (raw, name) =>
  raw.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new TypeError(`Invalid ${name} entry "${s}": not a URL origin`);
    }
    if (url.origin === "null" || url.origin !== s.replace(/\/$/, "")) {
      throw new TypeError(
        `Invalid ${name} entry "${s}": expected an origin like https://example.com`,
      );
    }
    return url.origin;
  });

const text: Parser<string> = (raw, name) => {
  if (raw.trim() === "") throw new TypeError(`Invalid ${name}: empty`);
  return raw;
};

const publicOrigin: Parser<string> = (raw, name) => {
  const [only, ...rest] = origins(raw, name);
  if (only === undefined || rest.length > 0) {
    throw new TypeError(
      `Invalid ${name} "${raw}": expected one origin like https://meet.example.org`,
    );
  }
  return only;
};

const secret: Parser<string> = (raw, name) => {
  if (raw.length < 32) {
    throw new TypeError(
      `Invalid ${name}: must be at least 32 characters (e.g. openssl rand -hex 32)`,
    );
  }
  return raw;
};

/** Any non-empty string: it must equal coturn's `static-auth-secret`, whatever that is. */
const turnSecret: Parser<string> = (raw, name) => {
  if (raw === "") throw new TypeError(`Invalid ${name}: empty`);
  return raw;
};

const redisUrl: Parser<string> = (raw, name) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`Invalid ${name} "${raw}": expected redis://host:port or rediss://…`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new TypeError(`Invalid ${name} "${url.protocol}…": expected a redis:// or rediss:// URL`);
  }
  return raw;
};

const boolean: Parser<boolean> = (raw, name) => {
  const value = raw.trim().toLowerCase();
  if (["1", "true", "yes"].includes(value)) return true;
  if (["0", "false", "no"].includes(value)) return false;
  throw new TypeError(`Invalid ${name} "${raw}": expected true or false`);
};

const turnUrls: Parser<string[]> = (raw, name) => {
  const urls = raw.split(",").map((u) => u.trim()).filter((u) => u !== "");
  const bad = urls.find((u) => !/^turns?:[^\s]+$/.test(u));
  if (urls.length === 0 || bad !== undefined) {
    throw new TypeError(
      `Invalid ${name} "${bad ?? raw}": expected comma-separated turn: or turns: URLs`,
    );
  }
  return urls;
};

const policy: Parser<IceTransportPolicy> = (raw, name) => {
  const value = raw.trim().toLowerCase();
  if (value !== "all" && value !== "relay") {
    throw new TypeError(`Invalid ${name} "${raw}": expected all or relay`);
  }
  return value;
};

const logLevel: Parser<LogLevel> = (raw, name) => {
  const level = LOG_LEVELS.find((l) => l === raw.toLowerCase());
  if (level === undefined) {
    throw new TypeError(
      `Invalid ${name} "${raw}": expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return level;
};

/** Each setting: its environment variable, parser and default. */
const SETTINGS = {
  port: { env: "PORT", parse: integer(0, 65535), fallback: DEFAULTS.port },
  host: { env: "HOST", parse: text, fallback: DEFAULTS.host },
  iceServers: {
    env: "ICE_SERVERS",
    parse: iceServers,
    fallback: DEFAULT_ICE_SERVERS,
  },
  maxPeersPerChannel: {
    env: "MAX_PEERS_PER_CHANNEL",
    parse: integer(2, 1000),
    fallback: DEFAULTS.maxPeersPerChannel,
  },
  maxChannelsPerPeer: {
    env: "MAX_CHANNELS_PER_PEER",
    parse: integer(1, 100),
    fallback: DEFAULTS.maxChannelsPerPeer,
  },
  maxMessageBytes: {
    env: "MAX_MESSAGE_BYTES",
    parse: integer(1024, 16 * 1024 * 1024),
    fallback: DEFAULTS.maxMessageBytes,
  },
  rateBurst: { env: "RATE_BURST", parse: integer(1, 1_000_000), fallback: DEFAULTS.rateBurst },
  ratePerSecond: {
    env: "RATE_PER_SECOND",
    parse: integer(1, 1_000_000),
    fallback: DEFAULTS.ratePerSecond,
  },
  idleTimeoutSeconds: {
    env: "IDLE_TIMEOUT",
    parse: integer(1, 3600),
    fallback: DEFAULTS.idleTimeoutSeconds,
  },
  allowedOrigins: {
    env: "ALLOWED_ORIGINS",
    parse: origins,
    fallback: [] as string[],
  },
  publicOrigin: { env: "PUBLIC_ORIGIN", parse: publicOrigin, fallback: undefined },
  tlsCert: { env: "TLS_CERT", parse: text, fallback: undefined },
  tlsKey: { env: "TLS_KEY", parse: text, fallback: undefined },
  logLevel: { env: "LOG_LEVEL", parse: logLevel, fallback: "info" as LogLevel },
  sessionSecret: { env: "SESSION_SECRET", parse: secret, fallback: undefined },
  dataDir: { env: "DATA_DIR", parse: text, fallback: DEFAULTS.dataDir },
  turnSecret: { env: "TURN_SECRET", parse: turnSecret, fallback: undefined },
  turnUrls: { env: "TURN_URLS", parse: turnUrls, fallback: undefined },
  turnTtlSeconds: {
    env: "TURN_TTL",
    parse: integer(60, 30 * 86_400),
    fallback: DEFAULTS.turnTtlSeconds,
  },
  iceTransportPolicy: {
    env: "ICE_TRANSPORT_POLICY",
    parse: policy,
    fallback: "all" as IceTransportPolicy,
  },
  resumeWindowSeconds: {
    env: "RESUME_WINDOW",
    parse: integer(0, 3600),
    fallback: DEFAULTS.resumeWindowSeconds,
  },
  resumeTokenTtlSeconds: {
    env: "RESUME_TOKEN_TTL",
    parse: integer(10, 86_400),
    fallback: DEFAULTS.resumeTokenTtlSeconds,
  },
  maxConnections: {
    env: "MAX_CONNECTIONS",
    parse: integer(1, 10_000_000),
    fallback: DEFAULTS.maxConnections,
  },
  maxConnectionsPerAddress: {
    env: "MAX_CONNECTIONS_PER_ADDRESS",
    parse: integer(1, 10_000_000),
    fallback: DEFAULTS.maxConnectionsPerAddress,
  },
  trustProxy: { env: "TRUST_PROXY", parse: boolean, fallback: false },
  joinBurst: { env: "JOIN_BURST", parse: integer(1, 10_000_000), fallback: DEFAULTS.joinBurst },
  joinsPerMinute: {
    env: "JOINS_PER_MINUTE",
    parse: integer(1, 10_000_000),
    fallback: DEFAULTS.joinsPerMinute,
  },
  turnCredentialsPerHour: {
    env: "TURN_CREDENTIALS_PER_HOUR",
    parse: integer(1, 1_000_000),
    fallback: DEFAULTS.turnCredentialsPerHour,
  },
  passwordHashConcurrency: {
    env: "PASSWORD_HASH_CONCURRENCY",
    parse: integer(1, 64),
    fallback: DEFAULTS.passwordHashConcurrency,
  },
  maxAwayPeers: {
    env: "MAX_AWAY_PEERS",
    parse: integer(0, 10_000_000),
    fallback: DEFAULTS.maxAwayPeers,
  },
  metricsToken: { env: "METRICS_TOKEN", parse: secret, fallback: undefined },
  redisUrl: { env: "REDIS_URL", parse: redisUrl, fallback: undefined },
  sourceMap: { env: "SOURCE_MAP", parse: boolean, fallback: false },
} as const;

/** The environment variable names, for docs and `--help`. */
export const CONFIG_VARIABLES: string[] = Object.values(SETTINGS).map((s) => s.env);

function flagName(env: string): string {
  return "--" + env.toLowerCase().replaceAll("_", "-");
}

/** Reads `--name value` / `--name=value` flags into an env-shaped record. */
function parseFlags(args: string[]): Record<string, string> {
  const byFlag = new Map(CONFIG_VARIABLES.map((env) => [flagName(env), env]));
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const env = byFlag.get(flag);
    if (env === undefined) {
      throw new TypeError(
        `Unknown argument "${arg}": expected one of ${[...byFlag.keys()].join(", ")}`,
      );
    }
    if (eq !== -1) {
      out[env] = arg.slice(eq + 1);
    } else if (i + 1 < args.length) {
      out[env] = args[++i];
    } else {
      throw new TypeError(`Missing value for ${flag}`);
    }
  }
  return out;
}

/**
 * Resolves the configuration: flags override environment variables, which
 * override defaults. Throws a `TypeError` naming the bad variable.
 */
export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
): Config {
  const flags = parseFlags(args);
  const resolve = <T>(s: { env: string; parse: Parser<T>; fallback: T }): T => {
    const raw = flags[s.env] ?? env[s.env];
    return raw === undefined ? s.fallback : s.parse(raw, s.env);
  };
  const config: Config = {
    port: resolve(SETTINGS.port),
    host: resolve(SETTINGS.host),
    iceServers: resolve<IceServer[]>(SETTINGS.iceServers),
    maxPeersPerChannel: resolve(SETTINGS.maxPeersPerChannel),
    maxChannelsPerPeer: resolve(SETTINGS.maxChannelsPerPeer),
    maxMessageBytes: resolve(SETTINGS.maxMessageBytes),
    rateBurst: resolve(SETTINGS.rateBurst),
    ratePerSecond: resolve(SETTINGS.ratePerSecond),
    idleTimeoutSeconds: resolve(SETTINGS.idleTimeoutSeconds),
    allowedOrigins: resolve(SETTINGS.allowedOrigins),
    publicOrigin: resolve<string | undefined>(SETTINGS.publicOrigin),
    tlsCert: resolve<string | undefined>(SETTINGS.tlsCert),
    tlsKey: resolve<string | undefined>(SETTINGS.tlsKey),
    logLevel: resolve(SETTINGS.logLevel),
    sessionSecret: resolve<string | undefined>(SETTINGS.sessionSecret),
    dataDir: resolve(SETTINGS.dataDir),
    resumeWindowSeconds: resolve(SETTINGS.resumeWindowSeconds),
    resumeTokenTtlSeconds: resolve(SETTINGS.resumeTokenTtlSeconds),
    maxConnections: resolve(SETTINGS.maxConnections),
    maxConnectionsPerAddress: resolve(SETTINGS.maxConnectionsPerAddress),
    trustProxy: resolve(SETTINGS.trustProxy),
    joinBurst: resolve(SETTINGS.joinBurst),
    joinsPerMinute: resolve(SETTINGS.joinsPerMinute),
    maxAwayPeers: resolve(SETTINGS.maxAwayPeers),
    turnCredentialsPerHour: resolve(SETTINGS.turnCredentialsPerHour),
    passwordHashConcurrency: resolve(SETTINGS.passwordHashConcurrency),
    metricsToken: resolve<string | undefined>(SETTINGS.metricsToken),
    sourceMap: resolve(SETTINGS.sourceMap),
    iceTransportPolicy: resolve(SETTINGS.iceTransportPolicy),
    redisUrl: resolve<string | undefined>(SETTINGS.redisUrl),
  };
  if (config.redisUrl !== undefined && config.sessionSecret === undefined) {
    throw new TypeError(
      "Invalid REDIS_URL: set SESSION_SECRET too (the same on every instance, so each verifies the others' resume tokens)",
    );
  }
  const turnSecret = resolve<string | undefined>(SETTINGS.turnSecret);
  const turnUrlList = resolve<string[] | undefined>(SETTINGS.turnUrls);
  const turnTtlSeconds = resolve(SETTINGS.turnTtlSeconds);
  if (turnUrlList !== undefined && turnSecret === undefined) {
    throw new TypeError("Invalid TURN_URLS: set TURN_SECRET too (coturn's static-auth-secret)");
  }
  if (turnSecret !== undefined && turnUrlList === undefined) {
    throw new TypeError("Invalid TURN_SECRET: set TURN_URLS too (where browsers reach the relay)");
  }
  if (turnSecret !== undefined && turnUrlList !== undefined) {
    config.turn = { secret: turnSecret, urls: turnUrlList, ttlSeconds: turnTtlSeconds };
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new TypeError("Invalid TLS_CERT/TLS_KEY: set both or neither");
  }
  return config;
}
