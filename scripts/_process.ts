/**
 * Child processes for tests and the benchmark: a free loopback port, a
 * Deno script started as a separate process that is ready once it prints
 * its "Open http://…" line, and a throwaway redis-server.
 *
 * @module
 */

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A running server process. */
export interface ServerProcess {
  child: Deno.ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode spawnServer}. */
export interface SpawnOptions {
  /** Environment for the child (PORT, HOST, …). */
  env: Record<string, string>;
  /** Flags before the script, e.g. V8 flags. Default none. */
  denoFlags?: string[];
  /** Run under `taskset -c <cpu>`. Default: not pinned. */
  cpu?: number;
}

/** Starts `script` (a path) with `deno run --allow-all` and waits until it listens. */
export function spawnServer(script: string, options: SpawnOptions): Promise<ServerProcess> {
  const args = ["run", "--allow-all", ...(options.denoFlags ?? []), script];
  return spawnUntil(Deno.execPath(), args, {
    env: options.env,
    cpu: options.cpu,
    ready: "Open http://",
    what: script,
  });
}

/** A running redis-server. */
export interface RedisProcess extends ServerProcess {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
}

/** Options for {@linkcode spawnRedis}. */
export interface RedisOptions {
  /** The binary. Default: see {@linkcode findRedisServer}. */
  path?: string;
  /** Run under `taskset -c <cpu>`. Default: not pinned. */
  cpu?: number;
}

/**
 * The redis-server binary to run: `path`, else REDIS_SERVER_PATH, else
 * `redis-server` on the PATH. Throws, saying how to get one, if it does
 * not run.
 */
export async function findRedisServer(path?: string): Promise<string> {
  const binary = path ?? Deno.env.get("REDIS_SERVER_PATH") ?? "redis-server";
  try {
    await new Deno.Command(binary, { args: ["--version"], stdout: "null" }).output();
    return binary;
  } catch (error) {
    throw new Error(
      `Cannot run ${binary}: ${
        error instanceof Error ? error.message : error
      } (install redis-server or set REDIS_SERVER_PATH)`,
    );
  }
}

/**
 * Starts a redis-server on a free loopback port that keeps nothing on disk
 * (no snapshots, no append-only file) and waits until it accepts
 * connections. The caller stops it with `child.kill()`.
 */
export async function spawnRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const path = await findRedisServer(options.path);
  // Another process may take the free port before redis-server binds it.
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    const args = ["--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    try {
      const started = await spawnUntil(path, args, {
        cpu: options.cpu,
        ready: "Ready to accept connections",
        what: path,
      });
      return { ...started, url: `redis://127.0.0.1:${port}` };
    } catch (error) {
      if (attempt === 3 || !String(error).includes("Address already in use")) throw error;
    }
  }
}

/** Spawns `cmd` and resolves once its stdout has shown `ready`. */
async function spawnUntil(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cpu?: number; ready: string; what: string },
): Promise<ServerProcess> {
  const child = new Deno.Command(options.cpu === undefined ? cmd : "taskset", {
    args: options.cpu === undefined ? args : ["-c", String(options.cpu), cmd, ...args],
    env: options.env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(options.ready)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${options.what} exited before it was ready: ${seen}`);
    seen += value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return { child, exited: child.status };
}
