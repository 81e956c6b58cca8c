/**
 * Child processes for tests and the benchmark: a free loopback port, and a
 * Deno script started as a separate process that is ready once it prints
 * its "Open http://…" line.
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
export async function spawnServer(script: string, options: SpawnOptions): Promise<ServerProcess> {
  const args = ["run", "--allow-all", ...(options.denoFlags ?? []), script];
  const child = new Deno.Command(options.cpu === undefined ? Deno.execPath() : "taskset", {
    args: options.cpu === undefined ? args : ["-c", String(options.cpu), Deno.execPath(), ...args],
    env: options.env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("Open http://")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} exited before listening: ${seen}`);
    seen += value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return { child, exited: child.status };
}
