/**
 * Fixtures for the cluster tests: hubs in this process, each with its own
 * {@linkcode RedisBus} on one real redis-server (`_redis.ts`), connected
 * through {@linkcode FakeConnection}s, and a wait on a condition with a
 * deadline (the bus answers over real sockets, not in event-loop turns).
 *
 * @module
 */

import { Hub, type HubOptions, type Session } from "../lib/hub.ts";
import type { ServerProcess } from "../scripts/_process.ts";
import { RedisBus, type RedisBusOptions } from "../lib/redis_bus.ts";
import { TokenSigner } from "../lib/token.ts";
import { FakeConnection, type Frame, frame, SECRET } from "./_helpers.ts";

/** Resolves once `condition()` holds; fails naming `what` after `timeoutMs`. */
export async function eventually(
  condition: () => boolean,
  what: string,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One person: a fake socket on one instance. */
export interface Person {
  conn: FakeConnection;
  session: Session;
  /** The id from `welcome` (a resume changes `session.peerId`, not this). */
  id: string;
  token: string;
  /** The frames of `event` received so far. */
  got(event: string): Frame[];
  send(event: string, data: unknown): void;
}

/** One instance: a hub on its own bus, its clock driving `tick()`. */
export interface Instance {
  hub: Hub;
  bus: RedisBus;
  /** A new connection here (from `address`, if given), `welcome` read. */
  connect(address?: string): Person;
  /** Stops this instance's heartbeats and reading, as if its process died. */
  die(): void;
}

/** Short timings so deaths and windows pass within a test. */
export const FAST = {
  heartbeatMs: 100,
  deadAfterMs: 1000,
  resumeWindowMs: 1500,
};

/** Starts an instance on `url`; `close()` it (or `die()`) at the end. */
export async function startInstance(
  url: string,
  options: HubOptions = {},
  busOptions: Partial<RedisBusOptions> = {},
): Promise<Instance & { close(): void }> {
  const bus = new RedisBus({
    url,
    heartbeatMs: FAST.heartbeatMs,
    deadAfterMs: FAST.deadAfterMs,
    syncTimeoutMs: 1000,
    ...busOptions,
  });
  const hub = new Hub({
    bus: (handlers) => bus.attach(handlers),
    tokens: new TokenSigner(SECRET),
    resumeWindowMs: FAST.resumeWindowMs,
    ...options,
  });
  await bus.start();
  const ticker = setInterval(() => hub.tick(), 100);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(ticker);
    bus.close();
  };
  return {
    hub,
    bus,
    connect(address?: string) {
      const conn = new FakeConnection();
      const session = hub.connect(conn, { address });
      const [welcome] = conn.frames("welcome");
      return {
        conn,
        session,
        id: session.peerId,
        token: welcome.data.resume_token,
        got: (event) => conn.frames(event),
        send: (event, data) => session.receive(frame(event, data)),
      };
    },
    die: stop,
    close: stop,
  };
}

/** `person` joins `room` with its name, and the join is awaited. */
export async function joined(person: Person, room = "room", name = person.id): Promise<void> {
  const before = person.got("joined").length;
  person.send("join", { channel: room, userdata: { name } });
  await eventually(() => person.got("joined").length > before, `${name} joined ${room}`);
}

/** SIGKILLs every server process still running and waits for all of them to exit. */
export async function killAll(servers: ServerProcess[]): Promise<void> {
  for (const server of servers) {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await server.exited;
  }
}

/** A `server.ts` process whose output goes line by line to a callback. */
export interface LoggedServer extends ServerProcess {
  /** Resolves once it listens; rejects, with its last lines, if it exits first. */
  ready: Promise<void>;
}

/**
 * Starts `server.ts` on 127.0.0.1:`port` (`ICE_SERVERS=[]`, plus `env`) and
 * hands every line it prints, stdout and stderr, to `onLine`: a failing
 * test can show what each instance logged. `exited` resolves once both
 * pipes are drained.
 */
export function spawnLoggedServer(
  port: number,
  env: Record<string, string>,
  onLine: (line: string) => void,
): LoggedServer {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../server.ts", import.meta.url).pathname],
    env: { PORT: String(port), HOST: "127.0.0.1", ICE_SERVERS: "[]", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { promise: ready, resolve, reject } = Promise.withResolvers<void>();
  const last: string[] = [];
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    const take = (line: string) => {
      onLine(line);
      last.push(line);
      if (last.length > 20) last.shift();
      if (line.startsWith("Open http://")) resolve();
    };
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      lines.forEach(take);
    }
    if (rest !== "") take(rest);
  };
  const drained = Promise.all([read(child.stdout), read(child.stderr)]);
  const exited = (async () => {
    const status = await child.status;
    await drained.catch(() => {});
    reject(new Error(`server.ts on port ${port} exited (${status.code}):\n${last.join("\n")}`));
    return status;
  })();
  return { child, exited, ready };
}
