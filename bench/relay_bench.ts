/**
 * The relay benchmark: starts the real server and the bare baseline relay
 * as separate processes, drives both with the same WebSocket load, and
 * reports throughput per server CPU-second, latency, join rate, memory per
 * connection, fan-out time and slow-consumer behaviour; then starts a
 * redis-server and two clustered server processes and compares relays
 * between the two instances with relays within one.
 *
 *   deno task bench                 # full run (about a minute)
 *   deno task bench --smoke         # a few seconds, tiny numbers (CI)
 *   deno task bench --target ws://host:port/ws --pid 1234   # a server started by hand
 *
 * Options: --pairs P (100) --window W (4) --duration S (5) --warmup S (1)
 * --joins N (4000) --fanout-rounds R (200) --json FILE, --no-cluster to
 * skip the cross-instance run (which needs redis-server: on the PATH or
 * REDIS_SERVER_PATH).
 *
 * @module
 */

import {
  findRedisServer,
  freePort,
  type RedisProcess,
  spawnRedis,
  spawnServer,
} from "../scripts/_process.ts";
import { type Hops, percentile, RawSocket, TestPeer } from "./_load.ts";

interface Options {
  pairs: number;
  window: number;
  duration: number;
  warmup: number;
  joins: number;
  fanoutRounds: number;
  target?: string;
  pid?: number;
  json?: string;
  smoke: boolean;
  cluster: boolean;
}

function parseOptions(args: string[]): Options {
  const options: Options = {
    pairs: 100,
    window: 4,
    duration: 5,
    warmup: 1,
    joins: 4000,
    fanoutRounds: 200,
    smoke: false,
    cluster: true,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new TypeError(`Missing value for ${arg}`);
      return v;
    };
    const int = () => {
      const n = Number(value());
      if (!Number.isFinite(n) || n <= 0) {
        throw new TypeError(`Invalid ${arg}: expected a number > 0`);
      }
      return n;
    };
    switch (arg) {
      case "--smoke":
        Object.assign(options, {
          smoke: true,
          pairs: 4,
          window: 2,
          duration: 0.5,
          warmup: 0.2,
          joins: 40,
          fanoutRounds: 10,
        });
        break;
      case "--pairs":
        options.pairs = Math.round(int());
        break;
      case "--window":
        options.window = Math.round(int());
        break;
      case "--duration":
        options.duration = int();
        break;
      case "--warmup":
        options.warmup = int();
        break;
      case "--joins":
        options.joins = Math.round(int() / 4) * 4;
        break;
      case "--fanout-rounds":
        options.fanoutRounds = Math.round(int());
        break;
      case "--target":
        options.target = value();
        break;
      case "--pid":
        options.pid = Math.round(int());
        break;
      case "--json":
        options.json = value();
        break;
      case "--no-cluster":
        options.cluster = false;
        break;
      default:
        throw new TypeError(`Unknown option ${arg}`);
    }
  }
  return options;
}

const ROOT = new URL("../", import.meta.url);
/**
 * The V8 flags `deno task start` runs the server with (a smaller young
 * generation: about a fifth less memory per idle connection, no measurable
 * throughput cost); both targets get them. BENCH_V8_FLAGS overrides.
 */
const V8_FLAGS = (Deno.env.get("BENCH_V8_FLAGS") ?? "--v8-flags=--max-semi-space-size=2")
  .split(" ").filter(Boolean);
const CORES = navigator.hardwareConcurrency;
const CAN_PIN = CORES >= 2 && (() => {
  try {
    return new Deno.Command("taskset", { args: ["-p", String(Deno.pid)], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A server process under test. */
interface Target {
  name: string;
  url: string;
  pid: number | null;
  stop(): Promise<void>;
}

/**
 * Starts `script` pinned to core 1 (the generator keeps core 0);
 * `options.env` adds to the environment below (default nothing).
 */
async function startTarget(
  name: string,
  script: string,
  options: { env?: Record<string, string> } = {},
): Promise<Target> {
  const port = freePort();
  const { child, exited } = await spawnServer(new URL(script, ROOT).pathname, {
    denoFlags: V8_FLAGS,
    cpu: CAN_PIN ? 1 : undefined,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      ICE_SERVERS: "[]",
      LOG_LEVEL: "warn",
      SESSION_SECRET: "bench-secret-0123456789abcdef0123456789",
      // Every check runs on every frame; the limits sit above what this
      // benchmark's honest clients send, so none of them is refused.
      RATE_BURST: "100000",
      RATE_PER_SECOND: "100000",
      // Thousands of clients from one loopback address: the per-address
      // caps are meant for the open internet, not for a load generator.
      MAX_CONNECTIONS: "1000000",
      MAX_CONNECTIONS_PER_ADDRESS: "1000000",
      JOIN_BURST: "1000000",
      JOINS_PER_MINUTE: "1000000",
      MAX_PEERS_PER_CHANNEL: "8",
      ...options.env,
    },
  });
  return {
    name,
    url: `ws://127.0.0.1:${port}/ws`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** utime + stime of `pids`, in seconds. */
function cpuSeconds(pids: (number | null)[]): number {
  let seconds = 0;
  for (const pid of pids) {
    if (pid === null) return NaN;
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    seconds += (Number(fields[11]) + Number(fields[12])) / 100; // CLK_TCK is 100 on Linux
  }
  return seconds;
}

/** Resident memory of `pid`, in bytes. */
function rssBytes(pid: number | null): number {
  if (pid === null) return NaN;
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb * 1024;
}

async function inBatches<T>(count: number, batch: number, fn: (i: number) => Promise<T>) {
  const out: T[] = [];
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    out.push(...await Promise.all(Array.from({ length: size }, (_, k) => fn(start + k))));
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Result of the relay scenario. */
interface RelayResult {
  hopsPerSecond: number;
  hopsPerCpuSecond: number;
  serverCpuSeconds: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** The share of `serverCpuSeconds` that was redis-server's (cluster runs only). */
  redisCpuSeconds?: number;
}

/** Where the relay scenario puts each pair, and what counts as server CPU. */
interface Placement {
  /** Each pair in a channel of its own (the baseline has none). Default true. */
  rooms?: boolean;
  /**
   * With two targets: the members of each pair on different ones (true),
   * or both on the same one with the pairs alternating (false). Default false.
   */
  across?: boolean;
  /** The cluster's redis-server: its CPU counts as the server's. Default none. */
  redisPid?: number;
}

/**
 * P pairs ping-pong a candidate-sized relay with W in flight per pair;
 * server CPU is that of every target and Redis together.
 */
async function relay(
  targets: Target[],
  options: Options,
  { rooms = true, across = false, redisPid }: Placement = {},
): Promise<RelayResult> {
  const at = (i: number) => targets[(across ? i : Math.floor(i / 2)) % targets.length];
  const peers = await inBatches(options.pairs * 2, 100, (i) => TestPeer.connect(at(i).url));
  if (rooms) {
    // Fresh channel names: leaves from an earlier run may still be on their way.
    const tag = crypto.randomUUID().slice(0, 8);
    await Promise.all(peers.map((peer, i) => peer.join(`bench-${tag}-${Math.floor(i / 2)}`)));
    // Joined is not enough on two instances: the partner's join must have reached ours.
    await Promise.all(peers.map((peer) => peer.waitForAddPeers(1)));
  }
  const pids = targets.map((t) => t.pid);
  const redis = redisPid === undefined ? [] : [redisPid];
  const hops: Hops = { count: 0, latencies: [], measuring: false, stopped: false };
  for (let i = 0; i < peers.length; i += 2) {
    TestPeer.pingPong(peers[i], peers[i + 1], options.window, hops);
  }
  await sleep(options.warmup * 1000);
  const cpuBefore = cpuSeconds(pids);
  const redisBefore = cpuSeconds(redis);
  const started = performance.now();
  hops.measuring = true;
  await sleep(options.duration * 1000);
  hops.measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const redisCpu = cpuSeconds(redis) - redisBefore;
  const cpu = cpuSeconds(pids) - cpuBefore + redisCpu;
  hops.stopped = true;
  await Promise.all(peers.map((p) => p.close()));
  const sorted = hops.latencies.sort((a, b) => a - b);
  return {
    hopsPerSecond: Math.round(hops.count / elapsed),
    hopsPerCpuSecond: Math.round(hops.count / cpu),
    serverCpuSeconds: Math.round(cpu * 100) / 100,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    ...redisPid === undefined ? {} : { redisCpuSeconds: Math.round(redisCpu * 100) / 100 },
  };
}

/** `a / b` to two decimals. */
const ratio = (a: number, b: number) => Math.round(a / b * 100) / 100;

/**
 * The relay scenario on a cluster: one redis-server and two server
 * processes sharing it, all on the server's core. Pairs within one
 * instance (pairs alternating between the two) and pairs split across
 * them, on the same processes; server CPU is both instances' and Redis's.
 * Redis and the instances are stopped by PID whatever happens.
 */
async function crossInstance(options: Options, single: RelayResult) {
  let redis: RedisProcess | undefined;
  const instances: Target[] = [];
  try {
    redis = await spawnRedis({ cpu: CAN_PIN ? 1 : undefined });
    const env = { REDIS_URL: redis.url };
    // One at a time: the second takes the (empty) rooms from the first.
    instances.push(await startTarget("instance A", "server.ts", { env }));
    instances.push(await startTarget("instance B", "server.ts", { env }));
    const redisPid = redis.child.pid;
    const sameInstance = await relay(instances, options, { redisPid });
    const betweenInstances = await relay(instances, options, { redisPid, across: true });
    const versus = (within: RelayResult) => ({
      hopsPerSecond: ratio(betweenInstances.hopsPerSecond, within.hopsPerSecond),
      hopsPerCpuSecond: ratio(betweenInstances.hopsPerCpuSecond, within.hopsPerCpuSecond),
      p50Latency: ratio(betweenInstances.p50Ms, within.p50Ms),
      p99Latency: ratio(betweenInstances.p99Ms, within.p99Ms),
    });
    return {
      singleInstance: single,
      sameInstance,
      betweenInstances,
      ratios: { betweenVsSame: versus(sameInstance), betweenVsSingle: versus(single) },
    };
  } finally {
    for (const instance of instances) await instance.stop();
    if (redis !== undefined) {
      redis.child.kill("SIGTERM");
      await redis.exited;
    }
  }
}

/**
 * N clients connect and (with rooms) join channels of 4; joins/s and the
 * RSS growth per client. Run on a fresh process: memory freed by earlier
 * scenarios would otherwise be reused and hide the per-client cost.
 */
async function joins(target: Target, count: number, rooms = true) {
  await sleep(300);
  const rssBefore = rssBytes(target.pid);
  const started = performance.now();
  const peers = await inBatches(count, 250, async (i) => {
    const peer = await TestPeer.connect(target.url);
    if (rooms) await peer.join(`room-${Math.floor(i / 4)}`);
    return peer;
  });
  // Everyone has heard of everyone in their room: 3 addPeers each.
  if (rooms) await Promise.all(peers.map((p) => p.waitForAddPeers(3)));
  const seconds = (performance.now() - started) / 1000;
  await sleep(300);
  const rssAfter = rssBytes(target.pid);
  await inBatches(peers.length, 500, (i) => peers[i].close());
  return {
    clients: count,
    joinsPerSecond: Math.round(count / seconds),
    rssPerClientKB: Math.round((rssAfter - rssBefore) / count / 102.4) / 10,
  };
}

/** A full channel; each join and leave must reach every member. */
async function fanout(target: Target, rounds: number, size = 8) {
  const members = await inBatches(size - 1, 10, async () => {
    const peer = await TestPeer.connect(target.url);
    await peer.join("fanout");
    return peer;
  });
  const joinTimes: number[] = [];
  const leaveTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const guest = await TestPeer.connect(target.url);
    const t0 = performance.now();
    const heard = members.map((m) => m.next("addPeer", guest.id));
    guest.sendJoin("fanout");
    await Promise.all(heard);
    joinTimes.push(performance.now() - t0);
    const t1 = performance.now();
    const gone = members.map((m) => m.next("removePeer", guest.id));
    await guest.close();
    await Promise.all(gone);
    leaveTimes.push(performance.now() - t1);
  }
  await Promise.all(members.map((m) => m.close()));
  return {
    channelSize: size,
    joinP99Ms: percentile(joinTimes.sort((a, b) => a - b), 0.99),
    leaveP99Ms: percentile(leaveTimes.sort((a, b) => a - b), 0.99),
  };
}

/** One receiver stops reading while others relay at full speed. */
async function slowConsumer(target: Target, options: Options, baselineHops: number) {
  const port = Number(new URL(target.url).port);
  const slow = await RawSocket.open(port);
  slow.sendText(JSON.stringify({ event: "join", data: { channel: "slow", userdata: {} } }));
  const sender = await TestPeer.connect(target.url);
  await sender.join("slow");
  const slowId = await sender.firstAddPeer();
  const rssBefore = rssBytes(target.pid);
  let rssMax = rssBefore;
  const sampler = setInterval(() => rssMax = Math.max(rssMax, rssBytes(target.pid)), 50);
  const kicked = sender.next("removePeer", slowId);
  const flood = options.smoke ? 20_000 : 60_000;
  let sent = 0;
  const floodDone = (async () => {
    while (sent < flood) {
      for (let i = 0; i < 500 && sent < flood; i++, sent++) sender.relayTo(slowId, sent);
      await sleep(0);
    }
  })();
  const others = await relay([target], { ...options, warmup: 0.2 });
  await floodDone;
  const wasKicked = await Promise.race([kicked.then(() => true), sleep(5000).then(() => false)]);
  clearInterval(sampler);
  slow.close();
  await sender.close();
  return {
    slowConsumerClosed: wasKicked,
    rssGrowthMB: Math.round((rssMax - rssBefore) / 1024 / 102.4) / 10,
    othersHopsPerSecond: others.hopsPerSecond,
    othersVsAlone: Math.round(others.hopsPerSecond / baselineHops * 100) / 100,
  };
}

function table(rows: [string, string | number][]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

/** The cross-instance table: three relay runs side by side, and between ÷ same. */
function printCluster(cluster: Awaited<ReturnType<typeof crossInstance>>) {
  const { singleInstance: single, sameInstance: same, betweenInstances: between } = cluster;
  const { betweenVsSame: vs } = cluster.ratios;
  const row = (label: string, key: keyof RelayResult, betweenVsSame = ""): [string, string] => {
    const cells = [single[key], same[key], between[key]].map((v) => `${v ?? "–"}`.padEnd(12));
    return [label, (cells.join("") + betweenVsSame).trimEnd()];
  };
  console.log(
    `\nbetween instances (2 instances on one redis-server${CAN_PIN ? ", all on core 1" : ""})`,
  );
  console.log(`  ${"".padEnd(21)}  single      cluster:    cluster:    between ÷`);
  console.log(`  ${"".padEnd(21)}  instance    same inst.  between     same inst.`);
  table([
    row("hops/s", "hopsPerSecond", `${vs.hopsPerSecond}`),
    row("server CPU s", "serverCpuSeconds"),
    row("of which redis-server", "redisCpuSeconds"),
    row("hops per server CPU-s", "hopsPerCpuSecond", `${vs.hopsPerCpuSecond}`),
    row("one-hop p50 ms", "p50Ms", `${vs.p50Latency}`),
    row("one-hop p99 ms", "p99Ms", `${vs.p99Latency}`),
    row("one-hop p99.9 ms", "p999Ms"),
  ]);
}

async function main() {
  const options = parseOptions(Deno.args);
  console.log(
    `machine: ${CORES} cores; server pinned to core 1, generator to core 0: ${
      CAN_PIN ? "yes" : "no"
    }`,
  );
  if (CAN_PIN) {
    new Deno.Command("taskset", { args: ["-p", "-c", "0", String(Deno.pid)], stdout: "null" })
      .outputSync();
  }
  console.log(
    `relay: P=${options.pairs} pairs, W=${options.window} in flight, ${options.duration}s after ${options.warmup}s warm-up`,
  );
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: CORES,
    pinned: CAN_PIN,
    options,
  };

  if (options.target !== undefined) {
    const target: Target = {
      name: "target",
      url: options.target,
      pid: options.pid ?? null,
      stop: () => Promise.resolve(),
    };
    results.target = await relay([target], options);
    console.log(results.target);
  } else {
    // Before a minute of the other scenarios, not after.
    if (options.cluster) await findRedisServer();
    const baseline = await startTarget("baseline", "bench/baseline_relay.ts");
    const base = await relay([baseline], options, { rooms: false });
    await baseline.stop();
    // Memory floor: the same number of bare connections to the baseline.
    const freshBaseline = await startTarget("baseline", "bench/baseline_relay.ts");
    const baseJoins = await joins(freshBaseline, options.joins, false);
    await freshBaseline.stop();
    const freshServer = await startTarget("server", "server.ts");
    const joinResult = await joins(freshServer, options.joins);
    await freshServer.stop();
    const server = await startTarget("server", "server.ts");
    const ours = await relay([server], options);
    const fan = await fanout(server, options.fanoutRounds);
    const slow = await slowConsumer(server, options, ours.hopsPerSecond);
    await server.stop();
    const cluster = options.cluster ? await crossInstance(options, ours) : undefined;
    const cpuRatio = ratio(ours.hopsPerCpuSecond, base.hopsPerCpuSecond);
    const p99Ratio = ratio(ours.p99Ms, base.p99Ms);
    Object.assign(results, {
      baseline: base,
      server: ours,
      ratios: { hopsPerCpuSecond: cpuRatio, p99Latency: p99Ratio },
      joins: joinResult,
      baselineConnections: baseJoins,
      fanout: fan,
      slowConsumer: slow,
      cluster,
    });
    console.log("\nrelay                      baseline      server");
    table([
      ["hops/s", `${base.hopsPerSecond}`.padEnd(12) + ours.hopsPerSecond],
      ["server CPU s", `${base.serverCpuSeconds}`.padEnd(12) + ours.serverCpuSeconds],
      ["hops per server CPU-s", `${base.hopsPerCpuSecond}`.padEnd(12) + ours.hopsPerCpuSecond],
      ["one-hop p50 ms", `${base.p50Ms}`.padEnd(12) + ours.p50Ms],
      ["one-hop p99 ms", `${base.p99Ms}`.padEnd(12) + ours.p99Ms],
      ["one-hop p99.9 ms", `${base.p999Ms}`.padEnd(12) + ours.p999Ms],
    ]);
    console.log("\nserver vs baseline (targets: ≥ 0.9 and ≤ 1.2)");
    table([["hops per CPU-s", cpuRatio], ["p99 latency", p99Ratio]]);
    console.log(
      `\njoins (${joinResult.clients} clients, channels of 4; targets ≥ 5000/s, ≤ 16 KB)`,
    );
    table([
      ["joins/s", joinResult.joinsPerSecond],
      ["RSS per joined client KB", joinResult.rssPerClientKB],
      ["baseline: RSS per bare connection KB", baseJoins.rssPerClientKB],
    ]);
    console.log(`\nfan-out (channel of ${fan.channelSize}, ${options.fanoutRounds} rounds)`);
    table([["join p99 ms", fan.joinP99Ms], ["leave p99 ms", fan.leaveP99Ms]]);
    console.log("\nslow consumer (one receiver stops reading)");
    table([
      ["closed by the server", String(slow.slowConsumerClosed)],
      ["server RSS growth MB", slow.rssGrowthMB],
      ["others' hops/s", `${slow.othersHopsPerSecond} (${slow.othersVsAlone}× alone)`],
    ]);
    if (cluster !== undefined) printCluster(cluster);
  }
  console.log("\n" + JSON.stringify(results));
  if (options.json !== undefined) {
    await Deno.writeTextFile(options.json, JSON.stringify(results, null, 2) + "\n");
  }
}

if (import.meta.main) await main();
