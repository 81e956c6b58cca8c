/**
 * The join storm's load generator: what a server sees when every client
 * reconnects at once. N clients in channels of R, all started as fast as
 * this process can with at most C connects in flight; each one connects,
 * waits for `welcome`, sends `join` and is introduced to its channel.
 * An independent client — the Node `ws` package, not Deno's own
 * WebSocket — run as a process of its own by `relay_bench.ts`.
 *
 *   deno run --allow-net=127.0.0.1 --allow-env bench/join_storm.ts ws://127.0.0.1:8000/ws
 *
 * Options: --clients N (4000, rounded to channels) --room-size R (4)
 * --concurrency C (200 connects in flight) --warm-up N (as many as
 * --clients; 0 for none) --hold (after the result, keep every client
 * connected until a line arrives on stdin; the caller reads the server's
 * memory meanwhile).
 *
 * The warm-up is a storm of its own against the bare relay
 * (`baseline_relay.ts`) served inside this process, before the one that
 * counts: a cold client runs about a third slower, and the point is to
 * find the target's limit, not the generator's. The target is not warmed:
 * after a restart it is not either.
 *
 * A client's **join time** runs from the start of its connect through
 * `welcome`, its `join`, and the `addPeer` for every member already in the
 * channel when the server took the join (the k-th joiner gets k − 1, with
 * `should_create_offer: true`). The first joiner has nobody to hear of, so
 * its time ends when its `join` is sent. A channel is **done** when each
 * member has also heard `addPeer` for every later joiner, so each pair is
 * introduced both ways; the storm's wall time ends when the last channel
 * is done. Prints one JSON line ({@linkcode StormResult}) on stdout; exits
 * non-zero, saying why, if a client fails or the storm stalls.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import process from "node:process";
import WebSocket from "ws";
import { handle as bareRelay } from "./baseline_relay.ts";

/** What one storm measured. */
export interface StormResult {
  clients: number;
  roomSize: number;
  concurrency: number;
  /** Clients ÷ wall time from the first connect to the last channel done. */
  joinsPerSecond: number;
  seconds: number;
  /** Per-client join time (see the module doc), in ms. */
  joinP50Ms: number;
  joinP99Ms: number;
  joinMaxMs: number;
  /** This process's CPU time during the storm: near `seconds`, the generator was the limit. */
  generatorCpuSeconds: number;
}

/** What to storm and how. */
export interface StormOptions {
  url: string;
  clients: number;
  roomSize: number;
  concurrency: number;
}

interface Options extends StormOptions {
  warmUp: number;
  hold: boolean;
}

function parseOptions(args: string[]): Options {
  const options: Partial<Options> = { clients: 4000, roomSize: 4, concurrency: 200, hold: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const count = () => {
      const n = Math.round(Number(args[++i]));
      if (!(n > 0)) throw new TypeError(`Invalid ${arg}: expected a number > 0`);
      return n;
    };
    if (arg === "--clients") options.clients = count();
    else if (arg === "--room-size") options.roomSize = count();
    else if (arg === "--concurrency") options.concurrency = count();
    else if (arg === "--warm-up") options.warmUp = Math.max(0, Math.round(Number(args[++i]) || 0));
    else if (arg === "--hold") options.hold = true;
    else if (!arg.startsWith("-") && options.url === undefined) options.url = arg;
    else throw new TypeError(`Unknown option ${arg}`);
  }
  if (options.url === undefined) throw new TypeError("Missing the server's ws:// URL");
  const rooms = Math.max(1, Math.round(options.clients! / options.roomSize!));
  const clients = rooms * options.roomSize!;
  return { ...options, clients, warmUp: options.warmUp ?? clients } as Options;
}

/** One client's timeline, in ms of `performance.now()`. */
interface Client {
  room: Room;
  socket: WebSocket;
  started: number;
  joinSent: number;
  /** When the last `addPeer` with `should_create_offer: true` arrived (a member before us). */
  lastEarlier: number;
  earlier: number;
  later: number;
}

interface Room {
  channel: string;
  members: Client[];
  /** Members that have heard of every other member. */
  complete: number;
}

/** User + system CPU time of this process, in seconds. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** The value at quantile `q` of an ascending array, to three significant digits. */
function percentile(sorted: number[], q: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return Number(value.toPrecision(3));
}

/** Runs one storm; resolves once every channel is done, with every client still open. */
export function storm(options: StormOptions): Promise<{ result: StormResult; clients: Client[] }> {
  const { url, roomSize, concurrency } = options;
  const tag = crypto.randomUUID().slice(0, 8);
  const rooms: Room[] = Array.from(
    { length: options.clients / roomSize },
    (_, i) => ({ channel: `storm-${tag}-${i}`, members: [], complete: 0 }),
  );
  const clients: Client[] = [];
  let next = 0;
  let connecting = 0;
  let roomsDone = 0;
  let started = 0;
  let cpuBefore = 0;

  return new Promise((resolve, reject) => {
    const fail = (client: Client, why: string) => {
      const index = clients.indexOf(client);
      reject(new Error(`client ${index} (${client.room.channel}): ${why}`));
    };

    const finish = () => {
      const seconds = (performance.now() - started) / 1000;
      const cpu = ownCpuSeconds() - cpuBefore;
      for (const room of rooms) {
        // Exactly one member joined k-th for each k: the introductions add up.
        const order = room.members.map((c) => c.earlier).sort((a, b) => a - b);
        if (order.some((k, i) => k !== i)) {
          return reject(new Error(`${room.channel}: members heard ${order} earlier members`));
        }
      }
      const times = clients
        .map((c) => Math.max(c.joinSent, c.lastEarlier) - c.started)
        .sort((a, b) => a - b);
      resolve({
        clients,
        result: {
          clients: clients.length,
          roomSize,
          concurrency,
          joinsPerSecond: Math.round(clients.length / seconds),
          seconds: Math.round(seconds * 1000) / 1000,
          joinP50Ms: percentile(times, 0.5),
          joinP99Ms: percentile(times, 0.99),
          joinMaxMs: percentile(times, 1),
          generatorCpuSeconds: Math.round(cpu * 100) / 100,
        },
      });
    };

    const launch = () => {
      while (connecting < concurrency && next < options.clients) {
        const room = rooms[Math.floor(next / roomSize)];
        next++;
        connecting++;
        const client: Client = {
          room,
          socket: new WebSocket(url, { perMessageDeflate: false }),
          started: performance.now(),
          joinSent: NaN,
          lastEarlier: 0,
          earlier: 0,
          later: 0,
        };
        clients.push(client);
        room.members.push(client);
        listen(client);
      }
    };

    const listen = (client: Client) => {
      const { socket, room } = client;
      socket.on("message", (data: Buffer) => {
        const frame = JSON.parse(data.toString());
        if (frame.event === "welcome") {
          socket.send(
            JSON.stringify({
              event: "join",
              data: { channel: room.channel, userdata: { name: "storm guest" } },
            }),
          );
          client.joinSent = performance.now();
          connecting--;
          launch();
        } else if (frame.event === "addPeer") {
          if (frame.data.should_create_offer) {
            client.earlier++;
            client.lastEarlier = performance.now();
          } else {
            client.later++;
          }
          if (client.earlier + client.later === roomSize - 1 && ++room.complete === roomSize) {
            if (++roomsDone === rooms.length) finish();
          }
        } else if (frame.event === "error") {
          fail(client, `error ${JSON.stringify(frame.data)}`);
        }
      });
      socket.on("error", (error: Error) => fail(client, error.message));
      socket.on("close", (code: number) => {
        if (roomsDone < rooms.length) fail(client, `closed (${code}) before the storm was over`);
      });
    };

    cpuBefore = ownCpuSeconds();
    started = performance.now();
    launch();
  });
}

/** Closes every client (1000, so the server lets go at once) and waits for the closes. */
export async function closeAll(clients: Client[]): Promise<void> {
  await Promise.all(clients.map(({ socket }) =>
    new Promise<void>((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) return resolve();
      socket.once("close", () => resolve());
      socket.close(1000);
    })
  ));
}

/** One storm of `clients` against the bare relay served in this process, then closed. */
async function warmUp(options: StormOptions, clients: number) {
  const local = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, bareRelay);
  const url = `ws://127.0.0.1:${local.addr.port}/ws`;
  const rooms = Math.max(1, Math.round(clients / options.roomSize));
  const warm = await storm({ ...options, url, clients: rooms * options.roomSize });
  await closeAll(warm.clients);
  await local.shutdown();
}

async function main() {
  const options = parseOptions(Deno.args);
  // A storm stalls only if a server loses a frame: say so instead of hanging.
  const stall = setTimeout(() => {
    console.error(`join storm: not done after 120 s`);
    Deno.exit(1);
  }, 120_000);
  if (options.warmUp > 0) await warmUp(options, options.warmUp);
  const { result, clients } = await storm(options);
  clearTimeout(stall);
  console.log(JSON.stringify(result));
  if (options.hold) {
    const reader = Deno.stdin.readable.getReader();
    await reader.read();
    reader.releaseLock();
  }
  await closeAll(clients);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`join storm: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
