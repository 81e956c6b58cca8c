/** The real server on a free loopback port, for integration tests. */

import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { type RunningServer, startServer } from "../server.ts";

/** Runs `fn` against a real server configured by `env`, then shuts it down. */
export async function withServer(
  env: Record<string, string>,
  fn: (server: RunningServer, wsUrl: string) => Promise<void>,
) {
  const staticDir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${staticDir}/index.html`,
    "<!doctype html><p>hi</p>",
  );
  await Deno.writeTextFile(`${staticDir}/app.js.map`, '{"version":3}');
  const config = parseConfig([], {
    PORT: "0",
    HOST: "127.0.0.1",
    ICE_SERVERS: "[]",
    SESSION_SECRET: "test-secret-0123456789abcdef0123456789",
    DATA_DIR: staticDir,
    ...env,
  });
  const server = await startServer(config, {
    staticDir: new URL(`file://${staticDir}/`),
    logger: SILENT_LOGGER,
  });
  try {
    await fn(server, `ws://127.0.0.1:${server.port}/ws`);
  } finally {
    await server.shutdown();
    await Deno.remove(staticDir, { recursive: true });
  }
}
