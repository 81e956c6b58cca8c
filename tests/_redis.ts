/**
 * A real Redis (Debian's `redis-server`) on a free loopback port, for the
 * cluster tests: no persistence, so every start (and every
 * {@linkcode RedisServer.restart}) is an empty server, and a test can stop
 * or kill it to see what the instances do while it is gone.
 *
 * @module
 */

import { freePort } from "../scripts/_process.ts";

/** Where Debian's redis-server lives; REDIS_SERVER_PATH overrides. */
export const REDIS_SERVER_PATH = Deno.env.get("REDIS_SERVER_PATH") ?? "/usr/bin/redis-server";

/** How long a start may take before it fails, ms. */
const START_TIMEOUT_MS = 10_000;

/** A running (or stopped, restartable) redis-server. */
export interface RedisServer {
  /** Its loopback TCP port; the same across restarts. */
  port: number;
  /** `redis://127.0.0.1:<port>`, for a client. */
  url: string;
  /** Shuts it down with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (a crash) and waits for it to exit. */
  kill(): Promise<void>;
  /** Kills it if it still runs, then starts an empty one on the same port. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT), its data intact. */
  unpause(): void;
}

/** Starts redis-server on a free port and resolves once it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  // Another process may take the free port before redis-server binds it.
  for (let attempt = 1;; attempt++) {
    const server = new LocalRedis(freePort());
    try {
      await server.start();
      return server;
    } catch (error) {
      if (attempt === 3 || !server.output.includes("Address already in use")) throw error;
    }
  }
}

/** Sends `PING` over a fresh TCP connection; resolves with the reply line (`+PONG`). */
export async function pingRedis(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // A server that accepts but never answers must not hang the caller.
  const timer = setTimeout(() => closeQuietly(conn), 1000);
  try {
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(256);
    let reply = "";
    while (!reply.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      reply += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    return reply.trim();
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: Deno.Conn) {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** One redis-server process at a time on a fixed port, in its own empty directory. */
class LocalRedis implements RedisServer {
  readonly port: number;
  readonly url: string;
  #child: Deno.ChildProcess | null = null;
  /** Resolves once the current process has exited, its pipes drained and its directory removed. */
  #exited: Promise<void> = Promise.resolve();
  #output: string[] = [];

  constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** The current process's last output, for error messages. */
  get output(): string {
    return this.#output.join("").slice(-2000);
  }

  /** Starts redis-server and waits until it answers PING, or throws naming the port. */
  async start(): Promise<void> {
    // A directory of its own, so no dump.rdb from anywhere is ever loaded.
    const dir = await Deno.makeTempDir({ prefix: "mesh-redis-" });
    this.#output = [];
    const child = new Deno.Command(REDIS_SERVER_PATH, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const drained = Promise.all([this.#drain(child.stdout), this.#drain(child.stderr)]);
    let running = true;
    this.#exited = (async () => {
      await child.status;
      running = false;
      await drained.catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();

    const deadline = performance.now() + START_TIMEOUT_MS;
    let last = "no answer";
    while (running) {
      try {
        const reply = await pingRedis(this.port);
        if (reply === "+PONG") return;
        last = `answered ${JSON.stringify(reply)}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const what = running
      ? `did not answer PING within ${START_TIMEOUT_MS} ms`
      : "exited before answering PING";
    await this.kill();
    throw new Error(`redis-server on 127.0.0.1:${this.port} ${what} (${last}): ${this.output}`);
  }

  stop(): Promise<void> {
    return this.#signal("SIGTERM");
  }

  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  unpause(): void {
    this.#child?.kill("SIGCONT");
  }

  async #signal(signal: Deno.Signal) {
    try {
      // A paused server would not act on SIGTERM.
      this.#child?.kill("SIGCONT");
      this.#child?.kill(signal);
    } catch {
      // already exited
    }
    this.#child = null;
    await this.#exited;
  }

  async #drain(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.#output.push(decoder.decode(chunk, { stream: true }));
      if (this.#output.length > 100) this.#output.splice(0, 50);
    }
  }
}
