/** The real server on a free loopback port, for integration tests. */

import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { freePort, spawnServer } from "../scripts/_process.ts";
import { type RunningServer, startServer } from "../server.ts";

/** A loopback, port-0, silent-ICE configuration keeping its data in `dataDir`; `env` adds settings. */
export function testConfig(dataDir: string, env: Record<string, string> = {}) {
  return parseConfig([], {
    PORT: "0",
    HOST: "127.0.0.1",
    ICE_SERVERS: "[]",
    SESSION_SECRET: "test-secret-0123456789abcdef0123456789",
    DATA_DIR: dataDir,
    ...env,
  });
}

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
  const config = testConfig(staticDir, env);
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

/** A server process a test can kill and start again on the same port and data. */
export interface RestartableServer {
  /** The `/ws` URL. */
  url: string;
  dataDir: string;
  /** SIGKILLs the process (nothing saved on the way out) and starts it again. */
  restart(): Promise<void>;
}

/** Runs `fn` against `server.ts` as a child process with a fresh DATA_DIR, then kills it. */
export async function withRestartableServer(fn: (server: RestartableServer) => Promise<void>) {
  const dataDir = await Deno.makeTempDir();
  const port = freePort();
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    ICE_SERVERS: "[]",
    LOG_LEVEL: "warn",
    DATA_DIR: dataDir,
  };
  const script = new URL("../server.ts", import.meta.url).pathname;
  let process = await spawnServer(script, { env });
  try {
    await fn({
      url: `ws://127.0.0.1:${port}/ws`,
      dataDir,
      async restart() {
        process.child.kill("SIGKILL");
        await process.exited;
        process = await spawnServer(script, { env });
      },
    });
  } finally {
    process.child.kill("SIGKILL");
    await process.exited;
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Resolves with `file`'s text once it contains `text` (the server saves within a second). */
export async function savedWith(file: string, text: string): Promise<string> {
  for (let tries = 0; tries <= 100; tries++) {
    const saved = await Deno.readTextFile(file).catch(() => "");
    if (saved.includes(text)) return saved;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${text} never reached ${file}`);
}
