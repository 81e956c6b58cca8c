/**
 * A real coturn (Debian's `turnserver`) on a free loopback port, with the
 * TURN REST API secret (`use-auth-secret`), for the relay tests. Started
 * by the test, stopped by its PID.
 *
 * @module
 */

import { freePort } from "../scripts/_process.ts";

/** Where Debian's coturn lives; TURNSERVER_PATH overrides. */
export const TURNSERVER_PATH = Deno.env.get("TURNSERVER_PATH") ?? "/usr/bin/turnserver";

/** A running coturn. */
export interface Coturn {
  port: number;
  /** `turn:127.0.0.1:<port>?transport=udp`, for TURN_URLS. */
  url: string;
  stop(): Promise<void>;
}

/** Starts coturn for loopback peers with `secret` as its static-auth-secret. */
export async function startCoturn(secret: string): Promise<Coturn> {
  const port = freePort();
  const child = new Deno.Command(TURNSERVER_PATH, {
    args: [
      "-n", // no configuration file
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--use-auth-secret",
      `--static-auth-secret=${secret}`,
      "--realm=mesh.test",
      "--no-tls",
      "--no-dtls",
      "--allow-loopback-peers",
      "--cli-password=unused",
      "--no-cli",
      "--log-file=stdout",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      if (output.length < 200) output.push(decoder.decode(chunk, { stream: true }));
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]).catch(() => {});
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await drained;
  };
  // Ready once it accepts TCP on its port (it listens on UDP and TCP).
  const deadline = performance.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (performance.now() > deadline) {
        await stop();
        throw new Error(`coturn did not start on ${port}: ${output.join("").slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { port, url: `turn:127.0.0.1:${port}?transport=udp`, stop };
}
