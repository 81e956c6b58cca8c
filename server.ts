/**
 * Composition root: configuration → hub → HTTP handler → `Deno.serve`.
 *
 * Run `deno task start`; see README.md for the settings.
 *
 * @module
 */

import { type Config, parseConfig } from "./lib/config.ts";
import { createHandler } from "./lib/http.ts";
import { Hub } from "./lib/hub.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { loadRetired, saveRetired } from "./lib/retired.ts";
import { loadRooms, saveRooms } from "./lib/saved_rooms.ts";
import { loadSecret } from "./lib/secret.ts";
import { loadAssetTable } from "./lib/static.ts";
import { TokenSigner } from "./lib/token.ts";

/** A running server. */
export interface RunningServer {
  /** The URL to open, e.g. `http://localhost:8000/`. */
  url: string;
  port: number;
  hub: Hub;
  /** Closes every socket with 1001, stops listening, resolves when done. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** Where the static files live. Default `./static/` beside this file. */
  staticDir?: URL;
  /** Default: JSON lines on stdout at `config.logLevel`. */
  logger?: Logger;
}

/** Starts the signaling server with `config`. */
export async function startServer(
  config: Config,
  options: StartOptions = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const loaded = await loadAssetTable(
    options.staticDir ?? new URL("./static/", import.meta.url),
  );
  // Source maps show the whole client source: served in development only.
  const assets = config.sourceMap
    ? loaded
    : new Map([...loaded].filter(([path]) => !path.endsWith(".map")));
  const { secret, source } = await loadSecret(config.sessionSecret, config.dataDir);
  logger.log("info", "resume tokens ready", { secret: source, data_dir: config.dataDir });
  // In a cluster the rooms live in the instances, shared through Redis;
  // alone, in this process, saved to the data directory.
  const bus = config.redisUrl === undefined
    ? undefined
    // Loaded only for a cluster: a single instance never loads ioredis.
    : new (await import("./lib/redis_bus.ts")).RedisBus({ url: config.redisUrl, logger });
  // Per-address budgets are counted in Redis too: one count across instances.
  const budgets = config.redisUrl === undefined
    ? undefined
    : new (await import("./lib/redis_budgets.ts")).RedisBudgets({ url: config.redisUrl, logger });
  await budgets?.start();
  const hub = new Hub({
    bus: bus && ((handlers) => bus.attach(handlers)),
    budgets,
    tokens: new TokenSigner(secret),
    // In a cluster the rooms come from a running instance, or from the copy in Redis.
    retired: bus ? [] : await loadRetired(config.dataDir, Date.now()),
    rooms: bus ? [] : await loadRooms(config.dataDir),
    resumeWindowMs: config.resumeWindowSeconds * 1000,
    tokenTtlMs: config.resumeTokenTtlSeconds * 1000,
    iceServers: config.iceServers,
    turn: config.turn,
    iceTransportPolicy: config.iceTransportPolicy,
    maxPeersPerChannel: config.maxPeersPerChannel,
    maxChannelsPerPeer: config.maxChannelsPerPeer,
    maxMessageBytes: config.maxMessageBytes,
    rateBurst: config.rateBurst,
    ratePerSecond: config.ratePerSecond,
    joinBurst: config.joinBurst,
    joinsPerMinute: config.joinsPerMinute,
    maxAwayPeers: config.maxAwayPeers,
    turnCredentialsPerHour: config.turnCredentialsPerHour,
    passwordHashConcurrency: config.passwordHashConcurrency,
    logger,
  });
  await bus?.start();
  const handler = createHandler(hub, assets, {
    allowedOrigins: config.allowedOrigins,
    publicOrigin: config.publicOrigin,
    tls: config.tlsCert !== undefined,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    trustProxy: config.trustProxy,
    metricsToken: config.metricsToken,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    logger,
  });
  const tls = config.tlsCert !== undefined && config.tlsKey !== undefined
    ? {
      cert: await Deno.readTextFile(config.tlsCert),
      key: await Deno.readTextFile(config.tlsKey),
    }
    : {};
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    ...tls,
    onListen: ({ port }) => resolve(port),
    onError: (error) => {
      logger.log("error", "request failed", { error: String(error) });
      return new Response("Internal server error\n", { status: 500 });
    },
  }, handler);
  const port = await listening;
  // Expires away peers and refreshes tokens; never keeps the process alive.
  // Retirements (Leave) and rooms' authority (hosts, lock, knocks,
  // password) are saved when they change, at most once a second, so a
  // restart neither brings a departed id back nor opens a locked room.
  const savers = bus
    ? [
      saver(
        () => hub.roomsVersion + hub.retiredVersion,
        () => bus.saveRooms(hub.roomsSnapshot(), hub.retiredEntries()),
        { what: "rooms to Redis", logger },
      ),
    ]
    : [
      saver(() => hub.retiredVersion, () => saveRetired(config.dataDir, hub.retiredEntries()), {
        what: "retired ids",
        logger,
      }),
      saver(() => hub.roomsVersion, () => saveRooms(config.dataDir, hub.roomsSnapshot()), {
        what: "rooms",
        logger,
      }),
    ];
  const saveIfChanged = () => Promise.all(savers.map((save) => save()));
  const ticker = setInterval(() => {
    hub.tick();
    void saveIfChanged();
  }, 1000);
  Deno.unrefTimer(ticker);
  const scheme = "cert" in tls ? "https" : "http";
  const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const url = `${scheme}://${shownHost}:${port}/`;
  logger.log("info", "listening", { url, host: config.host, port });
  return {
    url,
    port,
    hub,
    finished: server.finished,
    async shutdown() {
      clearInterval(ticker);
      // Peers here resume on other instances, which then stop waiting for this one.
      bus?.close();
      budgets?.close();
      hub.shutdown();
      await saveIfChanged();
      await server.shutdown();
    },
  };
}

/**
 * A save that runs only when `version()` moved since the last one, one at
 * a time, logging (not throwing) a failure.
 */
function saver(
  version: () => number,
  save: () => Promise<void>,
  { what, logger }: { what: string; logger: Logger },
): () => Promise<void> {
  let saved = version();
  let saving: Promise<void> = Promise.resolve();
  return () => {
    const now = version();
    if (now === saved) return saving;
    saved = now;
    saving = saving.then(save).catch((error) =>
      logger.log("error", `cannot save ${what}`, { error: String(error) })
    );
    return saving;
  };
}

async function main() {
  let config: Config;
  try {
    config = parseConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(2);
  }
  let running: RunningServer;
  try {
    running = await startServer(config);
  } catch (error) {
    // A refused setting (a weak SESSION_SECRET, a port in use): one clear line.
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(2);
  }
  console.log(`Open ${running.url} in your browser.`);
  const stop = async (signal: string) => {
    console.log(`Received ${signal}, shutting down.`);
    // Sockets get 1001 at once; anything still hanging after 3 s is cut.
    setTimeout(() => Deno.exit(0), 3000);
    await running.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

if (import.meta.main) await main();
