/**
 * The benchmark: starts the real server (as `deno task start` runs it) and
 * the bare baseline relay as separate processes, one at a time on core 1,
 * and drives both with the same load from core 0, in alternating order:
 * the relay at saturation and at low load (throughput per server
 * CPU-second, latency), and a join storm from an independent `ws` client
 * in a process of its own (`join_storm.ts`: joins/s, join time, memory per
 * connection). Reports each figure as server ÷ baseline beside the target.
 * Then, on the server alone: fan-out time and slow-consumer behaviour; and
 * a redis-server with two clustered server processes, comparing relays
 * between the two instances with relays within one.
 *
 *   deno task bench                 # full run (about two minutes)
 *   deno task bench --smoke         # a few seconds, tiny numbers (CI)
 *   deno task bench --target ws://host:port/ws --pid 1234   # a server started by hand
 *
 * Options: --pairs P (100) --window W (4) --duration S (5) --warmup S (1)
 * --rounds R (4 relay rounds) --low-pairs P (10) --low-window W (1)
 * --low-rounds R (2) --joins N (4000) --concurrency C (200 connects in
 * flight) --join-rounds R (4) --fanout-rounds R (200) --json FILE,
 * --no-cluster to skip the cross-instance run (which needs redis-server: on
 * the PATH or REDIS_SERVER_PATH). A round runs the baseline and the server
 * once each; every other round the server goes first.
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
import type { StormResult } from "./join_storm.ts";

interface Options {
  pairs: number;
  window: number;
  duration: number;
  warmup: number;
  rounds: number;
  lowPairs: number;
  lowWindow: number;
  lowRounds: number;
  joins: number;
  concurrency: number;
  joinRounds: number;
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
    rounds: 4,
    lowPairs: 10,
    lowWindow: 1,
    lowRounds: 2,
    joins: 4000,
    concurrency: 200,
    joinRounds: 4,
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
          rounds: 1,
          lowPairs: 2,
          lowRounds: 1,
          joins: 40,
          concurrency: 20,
          joinRounds: 1,
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
      case "--rounds":
        options.rounds = Math.round(int());
        break;
      case "--low-pairs":
        options.lowPairs = Math.round(int());
        break;
      case "--low-window":
        options.lowWindow = Math.round(int());
        break;
      case "--low-rounds":
        options.lowRounds = Math.round(int());
        break;
      case "--joins":
        options.joins = Math.max(1, Math.round(int() / 4)) * 4;
        break;
      case "--concurrency":
        options.concurrency = Math.round(int());
        break;
      case "--join-rounds":
        options.joinRounds = Math.round(int());
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
 * The flags `deno task start` runs server.ts with, read from deno.json,
 * less the permissions (`spawnServer` grants all): the server runs as it
 * would in production, and the baseline gets the same flags.
 */
function startTaskFlags(): string[] {
  const config: unknown = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const tasks = typeof config === "object" && config !== null && "tasks" in config
    ? config.tasks
    : undefined;
  const start = typeof tasks === "object" && tasks !== null && "start" in tasks
    ? tasks.start
    : undefined;
  const run = typeof start === "string"
    ? start.split("&&").map((part) => part.trim().split(/\s+/))
      .find((words) => words[0] === "deno" && words[1] === "run" && words.includes("server.ts"))
    : undefined;
  if (run === undefined) throw new Error(`No "deno run … server.ts" in deno.json's start task`);
  return run.slice(2, run.indexOf("server.ts")).filter((word) => !/^--(allow|deny)-/.test(word));
}

/** Deno flags for both targets: the start task's; BENCH_V8_FLAGS overrides them. */
const DENO_FLAGS = Deno.env.get("BENCH_V8_FLAGS")?.split(" ").filter(Boolean) ?? startTaskFlags();
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
    denoFlags: DENO_FLAGS,
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
  /**
   * CPU that every other process on the machine took meanwhile (not the
   * targets, Redis or the generator): above a few tenths, something else
   * competed for the cores and the run is noise.
   */
  otherCpuSeconds: number;
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
  const generatorBefore = cpuSeconds([Deno.pid]);
  const machineBefore = machineCpuSeconds();
  const started = performance.now();
  hops.measuring = true;
  await sleep(options.duration * 1000);
  hops.measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const machine = machineCpuSeconds() - machineBefore;
  const generator = cpuSeconds([Deno.pid]) - generatorBefore;
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
    otherCpuSeconds: Math.max(0, Math.round((machine - cpu - generator) * 100) / 100),
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

/** A join storm against one target, with what the target spent on it. */
interface JoinResult extends StormResult {
  /** The target's CPU time from just before the first connect to the last channel done. */
  serverCpuSeconds: number;
  joinsPerServerCpuSecond: number;
  /** Target RSS with every client joined minus before the storm, ÷ clients. */
  rssPerConnectionKB: number;
}

/**
 * Runs `join_storm.ts` as a process of its own on the generator's core
 * against `target`, a fresh process (memory freed by an earlier scenario
 * would be reused and hide the per-connection cost), and reads the
 * target's CPU and RSS around it; the clients stay connected until the RSS
 * after the storm has been read.
 */
async function joinStorm(target: Target, options: Options): Promise<JoinResult> {
  const args = [
    "run",
    "--allow-net=127.0.0.1",
    "--allow-env",
    new URL("bench/join_storm.ts", ROOT).pathname,
    target.url,
    "--clients",
    String(options.joins),
    "--concurrency",
    String(options.concurrency),
    "--hold",
  ];
  await sleep(300);
  const rssBefore = rssBytes(target.pid);
  const cpuBefore = cpuSeconds([target.pid]);
  const child = new Deno.Command(CAN_PIN ? "taskset" : Deno.execPath(), {
    args: CAN_PIN ? ["-c", "0", Deno.execPath(), ...args] : args,
    cwd: ROOT.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    output += value;
  }
  const serverCpu = cpuSeconds([target.pid]) - cpuBefore;
  const line = output.slice(0, output.indexOf("\n"));
  await sleep(300);
  const rssAfter = rssBytes(target.pid);
  // Any line on stdin lets the clients go.
  const stdin = child.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("\n")).catch(() => {});
  await stdin.close().catch(() => {});
  while (!(await reader.read()).done) { /* drain */ }
  const status = await child.status;
  if (!status.success || line === "") {
    throw new Error(`The join storm against ${target.name} failed (exit code ${status.code})`);
  }
  const storm = parseStormResult(JSON.parse(line));
  return {
    ...storm,
    serverCpuSeconds: Math.round(serverCpu * 100) / 100,
    // Too short to register on a 10 ms clock (--smoke): no figure.
    joinsPerServerCpuSecond: serverCpu > 0 ? Math.round(storm.clients / serverCpu) : NaN,
    rssPerConnectionKB: Math.round((rssAfter - rssBefore) / storm.clients / 102.4) / 10,
  };
}

/** The generator's result line, rebuilt from checked fields. */
function parseStormResult(value: unknown): StormResult {
  const fields = new Map<string, unknown>(
    typeof value === "object" && value !== null ? Object.entries(value) : [],
  );
  const number = (key: keyof StormResult) => {
    const n = fields.get(key);
    if (typeof n !== "number") throw new TypeError(`Join storm result: ${key} is not a number`);
    return n;
  };
  return {
    clients: number("clients"),
    roomSize: number("roomSize"),
    concurrency: number("concurrency"),
    joinsPerSecond: number("joinsPerSecond"),
    seconds: number("seconds"),
    joinP50Ms: number("joinP50Ms"),
    joinP99Ms: number("joinP99Ms"),
    joinMaxMs: number("joinMaxMs"),
    generatorCpuSeconds: number("generatorCpuSeconds"),
  };
}

/** One round: the same scenario on a fresh baseline and a fresh server process. */
interface Round<T> {
  first: "baseline" | "server";
  baseline: T;
  server: T;
}

/**
 * `rounds` rounds of `measure`, each on a fresh baseline and a fresh
 * server process (one at a time, on the server's core); the baseline goes
 * first in rounds 1, 3, …, the server in rounds 2, 4, …, so drift over the
 * run (a warming machine, another process) falls on both alike.
 */
async function sideBySide<T>(
  rounds: number,
  measure: (target: Target) => Promise<T>,
): Promise<Round<T>[]> {
  const run = async (name: "baseline" | "server") => {
    const target = await startTarget(
      name,
      name === "baseline" ? "bench/baseline_relay.ts" : "server.ts",
    );
    try {
      return await measure(target);
    } finally {
      await target.stop();
    }
  };
  const out: Round<T>[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      const baseline = await run("baseline");
      out.push({ first: "baseline", baseline, server: await run("server") });
    } else {
      const server = await run("server");
      out.push({ first: "server", server, baseline: await run("baseline") });
    }
  }
  return out;
}

/** Lowest, highest and mean of a figure over the rounds. */
interface Spread {
  min: number;
  max: number;
  mean: number;
}

/** Three significant digits, whole numbers from 1,000. */
const significant = (n: number) => n >= 1000 ? Math.round(n) : Number(n.toPrecision(3));

function spread(values: number[], round = significant): Spread {
  return {
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
    mean: round(values.reduce((a, b) => a + b, 0) / values.length),
  };
}

/** A figure compared over rounds: both sides' spreads and the per-round ratios' spread. */
interface Comparison {
  baseline: Spread;
  server: Spread;
  /** server ÷ baseline, taken within each round. */
  ratio: Spread;
  ratios: number[];
}

function compare<T>(rounds: Round<T>[], figure: (result: T) => number): Comparison {
  const ratios = rounds.map((r) => ratio(figure(r.server), figure(r.baseline)));
  return {
    baseline: spread(rounds.map((r) => figure(r.baseline))),
    server: spread(rounds.map((r) => figure(r.server))),
    ratio: spread(ratios, (n) => Math.round(n * 100) / 100),
    ratios,
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

/**
 * CPU time processes have spent on the whole machine, all cores: user,
 * nice and system in /proc/stat (interrupts are left out: they are not
 * charged to a process, ours included).
 */
function machineCpuSeconds(): number {
  const [user, nice, system] = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim()
    .split(/\s+/).slice(1).map(Number);
  return (user + nice + system) / 100;
}

/** Cores' worth of CPU the whole machine spent over `ms`. */
async function machineBusy(ms: number): Promise<number> {
  const before = machineCpuSeconds();
  await sleep(ms);
  return Math.round((machineCpuSeconds() - before) / ms * 1000 * 100) / 100;
}

/** Thousands with a comma; "–" for no figure. */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return n >= 1000 ? n.toLocaleString("en-US") : String(n);
}

/** "min–max", or the one value. */
function formatSpread({ min, max }: Spread): string {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return "–";
  return min === max ? formatNumber(min) : `${formatNumber(min)}–${formatNumber(max)}`;
}

/** The target for a mean server ÷ baseline ratio. */
type Goal = { atLeast: number } | { atMost: number };

function goalText(goal: Goal, mean: number): string {
  const [sign, bound, met] = "atLeast" in goal
    ? ["≥", goal.atLeast, mean >= goal.atLeast]
    : ["≤", goal.atMost, mean <= goal.atMost];
  return `${sign} ${bound} ${met ? "✓" : "✗"}`;
}

/**
 * Prints baseline, server and server ÷ baseline for each figure over the
 * rounds; a target is checked against the mean ratio.
 */
function printComparison(title: string, rows: [label: string, Comparison, Goal?][]) {
  console.log(`\n${title}`);
  const cells = rows.map(([label, c, goal]) => [
    label,
    formatSpread(c.baseline),
    formatSpread(c.server),
    c.ratios.length === 1 || !Number.isFinite(c.ratio.mean)
      ? formatSpread(c.ratio)
      : `${formatSpread(c.ratio)} (mean ${formatNumber(c.ratio.mean)})`,
    goal === undefined ? "" : goalText(goal, c.ratio.mean),
  ]);
  const header = ["", "baseline", "server", "server ÷ baseline", "target"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  for (const row of [header, ...cells]) {
    console.log("  " + row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
}

/** "4 rounds: baseline first in 1, 3; server first in 2, 4". */
function orderNote(rounds: Round<unknown>[]): string {
  const firsts = (who: string) =>
    rounds.flatMap((r, i) => r.first === who ? [i + 1] : []).join(", ");
  if (rounds.length === 1) return "1 round, baseline first";
  return `${rounds.length} rounds: baseline first in ${firsts("baseline")}; ` +
    `server first in ${firsts("server")}`;
}

async function main() {
  const options = parseOptions(Deno.args);
  const otherLoad = await machineBusy(500);
  console.log(
    `machine: ${CORES} cores; server pinned to core 1, generator to core 0: ${
      CAN_PIN ? "yes" : "no"
    }; busy before the start: ${otherLoad} cores`,
  );
  if (otherLoad > 0.2) {
    console.log("  (other processes are running: expect noisy figures; compare the ratios)");
  }
  if (CAN_PIN) {
    new Deno.Command("taskset", { args: ["-p", "-c", "0", String(Deno.pid)], stdout: "null" })
      .outputSync();
  }
  console.log(`deno flags of both targets (deno task start's): ${DENO_FLAGS.join(" ")}`);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: CORES,
    pinned: CAN_PIN,
    busyBeforeStartCores: otherLoad,
    denoFlags: DENO_FLAGS,
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
    // Before minutes of the other scenarios, not after.
    if (options.cluster) await findRedisServer();
    const relayRounds = await sideBySide(
      options.rounds,
      (target) => relay([target], options, { rooms: target.name === "server" }),
    );
    const low = { ...options, pairs: options.lowPairs, window: options.lowWindow };
    const lowRounds = await sideBySide(
      options.lowRounds,
      (target) => relay([target], low, { rooms: target.name === "server" }),
    );
    const joinRounds = await sideBySide(options.joinRounds, (target) => joinStorm(target, options));

    const server = await startTarget("server", "server.ts");
    const last = relayRounds[relayRounds.length - 1];
    const fan = await fanout(server, options.fanoutRounds);
    const slow = await slowConsumer(server, options, last.server.hopsPerSecond);
    await server.stop();
    const cluster = options.cluster ? await crossInstance(options, last.server) : undefined;

    const relayCompared = {
      hopsPerSecond: compare(relayRounds, (r) => r.hopsPerSecond),
      hopsPerCpuSecond: compare(relayRounds, (r) => r.hopsPerCpuSecond),
      p50Latency: compare(relayRounds, (r) => r.p50Ms),
      p99Latency: compare(relayRounds, (r) => r.p99Ms),
      p999Latency: compare(relayRounds, (r) => r.p999Ms),
      otherCpu: compare(relayRounds, (r) => r.otherCpuSeconds),
    };
    const lowCompared = {
      hopsPerSecond: compare(lowRounds, (r) => r.hopsPerSecond),
      p50Latency: compare(lowRounds, (r) => r.p50Ms),
      p99Latency: compare(lowRounds, (r) => r.p99Ms),
      otherCpu: compare(lowRounds, (r) => r.otherCpuSeconds),
    };
    const joinCompared = {
      joinsPerSecond: compare(joinRounds, (r) => r.joinsPerSecond),
      joinP50: compare(joinRounds, (r) => r.joinP50Ms),
      joinP99: compare(joinRounds, (r) => r.joinP99Ms),
      rssPerConnection: compare(joinRounds, (r) => r.rssPerConnectionKB),
      joinsPerServerCpuSecond: compare(joinRounds, (r) => r.joinsPerServerCpuSecond),
      serverBusy: compare(joinRounds, (r) => r.serverCpuSeconds / r.seconds),
      generatorBusy: compare(joinRounds, (r) => r.generatorCpuSeconds / r.seconds),
    };
    const lastJoins = joinRounds[joinRounds.length - 1];
    Object.assign(results, {
      relay: { rounds: relayRounds, compared: relayCompared },
      lowLoad: {
        pairs: options.lowPairs,
        window: options.lowWindow,
        rounds: lowRounds,
        compared: lowCompared,
      },
      joinStorm: {
        clients: options.joins,
        roomSize: 4,
        concurrency: options.concurrency,
        rounds: joinRounds,
        compared: joinCompared,
      },
      // As before this file ran rounds: the last relay round, the mean ratios, the last storm.
      baseline: last.baseline,
      server: last.server,
      ratios: {
        hopsPerCpuSecond: relayCompared.hopsPerCpuSecond.ratio.mean,
        p99Latency: relayCompared.p99Latency.ratio.mean,
        joinsPerSecond: joinCompared.joinsPerSecond.ratio.mean,
        rssPerConnection: joinCompared.rssPerConnection.ratio.mean,
      },
      joins: {
        clients: lastJoins.server.clients,
        joinsPerSecond: lastJoins.server.joinsPerSecond,
        rssPerClientKB: lastJoins.server.rssPerConnectionKB,
      },
      fanout: fan,
      slowConsumer: slow,
      cluster,
    });

    printComparison(
      `relay at saturation: P=${options.pairs} pairs, W=${options.window} in flight, ` +
        `${options.duration}s after ${options.warmup}s warm-up; ${orderNote(relayRounds)}`,
      [
        ["hops/s", relayCompared.hopsPerSecond],
        ["hops per server CPU-s", relayCompared.hopsPerCpuSecond, { atLeast: 0.95 }],
        ["one-hop p50 ms", relayCompared.p50Latency],
        ["one-hop p99 ms", relayCompared.p99Latency, { atMost: 1.2 }],
        ["one-hop p99.9 ms", relayCompared.p999Latency],
        ["other processes' CPU-s", relayCompared.otherCpu],
      ],
    );
    printComparison(
      `relay at low load: P=${options.lowPairs} pairs, W=${options.lowWindow} in flight; ` +
        orderNote(lowRounds),
      [
        ["hops/s", lowCompared.hopsPerSecond],
        ["one-hop p50 ms", lowCompared.p50Latency],
        ["one-hop p99 ms", lowCompared.p99Latency],
        ["other processes' CPU-s", lowCompared.otherCpu],
      ],
    );
    printComparison(
      `join storm: ${options.joins} clients in channels of 4, ≤ ${options.concurrency} connects ` +
        `in flight, a ws client in its own process; ${orderNote(joinRounds)}`,
      [
        ["joins/s", joinCompared.joinsPerSecond, { atLeast: 0.9 }],
        ["join time p50 ms", joinCompared.joinP50],
        ["join time p99 ms", joinCompared.joinP99],
        ["RSS per connection KB", joinCompared.rssPerConnection, { atMost: 1 }],
        ["joins per server CPU-s", joinCompared.joinsPerServerCpuSecond],
        ["server core busy (CPU-s ÷ s)", joinCompared.serverBusy],
        ["generator core busy", joinCompared.generatorBusy],
      ],
    );
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
