/**
 * The client benchmark: real headless Chromium pages with fake cameras
 * against the real server, our client (static/) side by side with a
 * minimal baseline client (bench/baseline/: the seed's logic, protocol v1),
 * both served by the server on the same origin, alternating which goes
 * first in each round. Reports each figure as ours ÷ baseline beside the
 * target of issue 24:
 *
 * (a) Join click → first remote frame, two people, both directions;
 * (b) four people pressing Join 0.5 s apart → every page plays every remote video;
 * (c) main-thread busy ms per second per page in a steady three- and four-person call;
 * (d) JS heap per page in those calls (after a garbage collection).
 *
 * It also prints a timeline of one join for each client (WebSocket, join,
 * addPeer, offer, answer, ICE, DTLS, first frame), recorded by an init
 * script that wraps WebSocket and RTCPeerConnection in the page
 * (`_client_probe.ts`), without changing either client.
 *
 *   deno task bench:client            # full run (about thirteen minutes)
 *   deno task bench:client --smoke    # one round of each, well under a minute (CI)
 *
 * Options: --pair-rounds R (12) --call-rounds R (10) --settle S (2)
 * --window S (10) --json FILE, --call-timeline (every event of each
 * three-person call), --trace (a CDP trace of each page of the
 * three-person calls over the window: main-thread CPU by event). Needs the built client (`deno task build`,
 * which the task runs) and Chromium (CHROMIUM_PATH). Exits non-zero only
 * when the bench itself breaks (a scenario with no successful round for a
 * client), never because of a ratio.
 *
 * @module
 */

import { type Browser, type CDPSession, chromium, type Page } from "playwright-core";
import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { type RunningServer, startServer } from "../server.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH, TEST_SECRET } from "../tests/_browser.ts";
import { installProbe, type ProbeEvent, type ProbeRecord, readProbe } from "./_client_probe.ts";
import { percentile } from "./_load.ts";

interface Options {
  pairRounds: number;
  callRounds: number;
  settle: number;
  window: number;
  json?: string;
  smoke: boolean;
  /** Print every event of each three-person call (to find what a call waits for). */
  callTimeline: boolean;
  /** Trace the first page of each three-person call over the window; print main-thread time by task. */
  trace: boolean;
}

function parseOptions(args: string[]): Options {
  const options: Options = {
    pairRounds: 12,
    callRounds: 10,
    settle: 2,
    window: 10,
    smoke: false,
    callTimeline: false,
    trace: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const number = () => {
      const n = Number(args[++i]);
      if (!Number.isFinite(n) || n <= 0) {
        throw new TypeError(`Invalid ${arg}: expected a number > 0`);
      }
      return n;
    };
    switch (arg) {
      case "--smoke":
        Object.assign(options, {
          smoke: true,
          pairRounds: 1,
          callRounds: 1,
          settle: 0.5,
          window: 1,
        });
        break;
      case "--call-timeline":
        options.callTimeline = true;
        break;
      case "--trace":
        options.trace = true;
        break;
      case "--pair-rounds":
        options.pairRounds = Math.round(number());
        break;
      case "--call-rounds":
        options.callRounds = Math.round(number());
        break;
      case "--settle":
        options.settle = number();
        break;
      case "--window":
        options.window = number();
        break;
      case "--json":
        options.json = args[++i];
        if (options.json === undefined) throw new TypeError("Missing value for --json");
        break;
      default:
        throw new TypeError(`Unknown option ${arg}`);
    }
  }
  return options;
}

const ROOT = new URL("../", import.meta.url);
/** How long any one page may take to get where a scenario needs it. */
const WAIT_MS = 60_000;
/** Quiet time after a page is ready (camera on) before anyone clicks Join. */
const READY_QUIET_MS = 300;
/** The gap between Join clicks in the three- and four-person calls. */
const JOIN_GAP_MS = 500;

type ClientName = "ours" | "baseline";

/** How to open, ready and join one client. */
interface Client {
  name: ClientName;
  open(page: Page, base: string, room: string, name: string): Promise<void>;
  /** Resolves when the page is ready for its Join click (camera on; socket too if it opens early). */
  ready(page: Page): Promise<void>;
  join(page: Page): Promise<void>;
  /** Resolves when the page is in the room. */
  joined(page: Page): Promise<void>;
}

const OURS: Client = {
  name: "ours",
  async open(page, base, room, name) {
    await page.goto(`${base}/r/${room}`);
    await page.getByLabel("Name").fill(name);
  },
  async ready(page) {
    await page.waitForFunction(
      () => (globalThis as unknown as Probed).__probe.gumAt !== null,
      null,
      wait(),
    );
  },
  async join(page) {
    await page.getByRole("button", { name: "Join", exact: true }).click();
  },
  async joined(page) {
    await page.locator("[data-local]").waitFor({ timeout: WAIT_MS });
  },
};

const BASELINE: Client = {
  name: "baseline",
  async open(page, base, room, name) {
    const query = new URLSearchParams({ room, name });
    await page.goto(`${base}/baseline/index.html?${query}`);
  },
  async ready(page) {
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Probed).__probe.gumAt !== null && "__baselineOpen" in globalThis,
      null,
      wait(),
    );
  },
  async join(page) {
    await page.locator("#join").click();
  },
  async joined(page) {
    await page.waitForFunction(() => "__baselineJoined" in globalThis, null, wait());
  },
};

/** The page's global with what the probe recorded (for callbacks that run in the page). */
type Probed = { __probe: ProbeRecord };

function wait() {
  return { timeout: WAIT_MS, polling: 100 };
}

/** A page with its own context (own camera), the probe and a CDP session. */
interface BenchPage {
  page: Page;
  cdp: CDPSession;
  close(): Promise<void>;
}

async function openPage(browser: Browser, timeline: boolean): Promise<BenchPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.addInitScript(installProbe, { timeline });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  return { page, cdp, close: () => context.close().catch(() => {}) };
}

function probeOf(page: Page): Promise<ProbeRecord> {
  return page.evaluate(readProbe);
}

/** Waits until the page has shown a first frame of `count` remote video tracks. */
async function waitForRemoteFrames(page: Page, count: number) {
  await page.waitForFunction(
    (n) => Object.keys((globalThis as unknown as Probed).__probe.frames).length >= n,
    count,
    wait(),
  );
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `names.length` pages of `client` in `room` and waits until each is ready to join. */
async function openReady(
  browser: Browser,
  client: Client,
  base: string,
  room: string,
  { people, timeline }: { people: number; timeline: boolean },
): Promise<BenchPage[]> {
  const pages: BenchPage[] = [];
  for (let i = 0; i < people; i++) pages.push(await openPage(browser, timeline));
  await Promise.all(pages.map(async ({ page }, i) => {
    await client.open(page, base, room, `Person ${i + 1}`);
    await client.ready(page);
  }));
  await delay(READY_QUIET_MS);
  return pages;
}

/** One round of (a): who joins, who is inside, and both. */
interface PairResult {
  joinerMs: number;
  insideMs: number;
  bothMs: number;
  /** Events of both pages, ms from the second Join click. */
  timeline: { who: "joiner" | "inside"; ms: number; what: string }[];
}

async function pairRound(browser: Browser, client: Client, base: string): Promise<PairResult> {
  const room = `bench-pair-${crypto.randomUUID().slice(0, 8)}`;
  const pages = await openReady(browser, client, base, room, { people: 2, timeline: true });
  try {
    const [inside, joiner] = pages.map((p) => p.page);
    await client.join(inside);
    await client.joined(inside);
    await delay(READY_QUIET_MS);
    await client.join(joiner);
    await Promise.all([waitForRemoteFrames(joiner, 1), waitForRemoteFrames(inside, 1)]);
    const [a, b] = await Promise.all([probeOf(inside), probeOf(joiner)]);
    const click = b.clickAt!;
    const first = (record: ProbeRecord) => Math.min(...Object.values(record.frames)) - click;
    const relative = (who: "joiner" | "inside", events: ProbeEvent[]) =>
      events.map(({ at, what }) => ({ who, ms: at - click, what }));
    return {
      joinerMs: first(b),
      insideMs: first(a),
      bothMs: Math.max(first(a), first(b)),
      timeline: [...relative("inside", a.events), ...relative("joiner", b.events)]
        .filter((e) => e.ms >= -1000 || e.who === "joiner")
        .sort((x, y) => x.ms - y.ms),
    };
  } finally {
    await Promise.all(pages.map((p) => p.close()));
  }
}

/** Per-page CDP counters (seconds and bytes, as Chromium reports them). */
type Metrics = Record<string, number>;

async function metricsOf(cdp: CDPSession): Promise<Metrics> {
  const { metrics } = await cdp.send("Performance.getMetrics");
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

/** One round of a call: (b) when everyone plays everyone, (c) busy ms/s and (d) heap per page. */
interface CallResult {
  allPlayingMs: number;
  busyMsPerSecond: number[];
  scriptMsPerSecond: number[];
  /** CPU time of the main thread, ms per second per page (ThreadTime: not counting time it waited). */
  cpuMsPerSecond: number[];
  /** Style recalculation and layout, ms per second per page. */
  layoutMsPerSecond: number[];
  /** RTCPeerConnection.getStats calls per second, per page. */
  getStatsPerSecond: number[];
  heapMb: number[];
}

async function callRound(
  browser: Browser,
  client: Client,
  base: string,
  { people, options }: { people: number; options: Options },
): Promise<CallResult> {
  const room = `bench-call-${crypto.randomUUID().slice(0, 8)}`;
  const timeline = options.callTimeline && people === 3;
  const pages = await openReady(browser, client, base, room, { people, timeline });
  try {
    const start = performance.now();
    await Promise.all(pages.map(async ({ page }, i) => {
      await delay(Math.max(0, start + i * JOIN_GAP_MS - performance.now()));
      await client.join(page);
    }));
    await Promise.all(pages.map(({ page }) => waitForRemoteFrames(page, people - 1)));
    const records = await Promise.all(pages.map(({ page }) => probeOf(page)));
    const firstClick = Math.min(...records.map((r) => r.clickAt!));
    const allPlaying = Math.max(...records.flatMap((r) => Object.values(r.frames)));
    if (timeline) {
      console.log(`\n${client.name}: a three-person call, ms after the first Join click`);
      const events = records.flatMap((r, i) =>
        r.events.map(({ at, what }) => ({
          ms: Math.round(at - firstClick),
          what: `p${i + 1} ${what}`,
        }))
      ).filter((e) => e.ms >= -50).sort((x, y) => x.ms - y.ms);
      for (const { ms, what } of events) console.log(`${String(ms).padStart(7)}  ${what}`);
    }
    await delay(options.settle * 1000);
    const statsCalls = () =>
      Promise.all(pages.map(async ({ page }) => (await probeOf(page)).getStatsCalls));
    const [before, statsBefore] = await Promise.all([
      Promise.all(pages.map(({ cdp }) => metricsOf(cdp))),
      statsCalls(),
    ]);
    const tracing = options.trace && people === 3 ? startTrace(pages[0].cdp) : undefined;
    await delay(options.window * 1000);
    if (tracing) printTrace(client.name, await tracing.stop(), options.window);
    const [after, statsAfter] = await Promise.all([
      Promise.all(pages.map(({ cdp }) => metricsOf(cdp))),
      statsCalls(),
    ]);
    const perSecond = (name: string) =>
      after.map((m, i) => (m[name] - before[i][name]) * 1000 / (m.Timestamp - before[i].Timestamp));
    const heapMb = await Promise.all(pages.map(async ({ cdp }) => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await metricsOf(cdp)).JSHeapUsedSize / 1_048_576;
    }));
    return {
      allPlayingMs: allPlaying - firstClick,
      busyMsPerSecond: perSecond("TaskDuration"),
      scriptMsPerSecond: perSecond("ScriptDuration"),
      cpuMsPerSecond: perSecond("ThreadTime"),
      layoutMsPerSecond: perSecond("RecalcStyleDuration").map((style, i) =>
        style + perSecond("LayoutDuration")[i]
      ),
      getStatsPerSecond: statsAfter.map((n, i) =>
        (n - statsBefore[i]) / (after[i].Timestamp - before[i].Timestamp)
      ),
      heapMb,
    };
  } finally {
    await Promise.all(pages.map((p) => p.close()));
  }
}

/** A trace event as Chromium's tracing reports it. */
interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  /** Thread (CPU) time of the event, µs. */
  tdur?: number;
  args?: { name?: string };
}

/** Starts a CDP trace of the page's timeline; `stop()` ends it and returns its events. */
function startTrace(cdp: CDPSession) {
  const events: TraceEvent[] = [];
  const collect = ({ value }: { value: unknown[] }) => events.push(...value as TraceEvent[]);
  cdp.on("Tracing.dataCollected", collect);
  const started = cdp.send("Tracing.start", {
    traceConfig: {
      includedCategories: [
        "devtools.timeline",
        "disabled-by-default-devtools.timeline",
        "toplevel",
        "blink",
        "cc",
        "gpu",
        "media",
        "v8",
      ],
    },
    transferMode: "ReportEvents",
  });
  return {
    async stop(): Promise<TraceEvent[]> {
      await started;
      const complete = new Promise<void>((resolve) =>
        cdp.once("Tracing.tracingComplete", () => resolve())
      );
      await cdp.send("Tracing.end");
      await complete;
      cdp.off("Tracing.dataCollected", collect);
      return events;
    },
  };
}

/**
 * Prints, for each renderer main thread in the trace, its busy time per
 * second (top-level tasks) and the self time of each event name, largest
 * first: what the main thread of a steady call spends its time on.
 */
function printTrace(client: ClientName, events: TraceEvent[], seconds: number) {
  const main = new Set(
    events.filter((e) =>
      e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain"
    )
      .map((e) => `${e.pid}:${e.tid}`),
  );
  for (const thread of main) {
    const spans = events.filter((e) => e.ph === "X" && `${e.pid}:${e.tid}` === thread && e.dur)
      .sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
    const self = new Map<string, number>();
    const stack: { end: number; name: string }[] = [];
    let wall = 0;
    let cpu = 0;
    for (const span of spans) {
      while (stack.length > 0 && stack.at(-1)!.end <= span.ts) stack.pop();
      const parent = stack.at(-1);
      const time = span.tdur ?? 0;
      if (parent) self.set(parent.name, (self.get(parent.name) ?? 0) - time);
      else {
        wall += span.dur!;
        cpu += time;
      }
      self.set(span.name, (self.get(span.name) ?? 0) + time);
      stack.push({ end: span.ts + span.dur!, name: span.name });
    }
    const perSecond = (us: number) => (us / 1000 / seconds).toFixed(2);
    if (wall / 1000 / seconds < 1) continue;
    console.log(
      `\n${client}: trace of a page's main thread (${thread}): top-level events ` +
        `${perSecond(wall)} ms/s, ${perSecond(cpu)} ms/s of CPU; CPU ms/s by event (self):`,
    );
    for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
      console.log(`${perSecond(us).padStart(8)}  ${name}`);
    }
  }
}

/** Runs `round` for both clients `rounds` times, alternating which goes first. */
async function alternate<T>(
  label: string,
  rounds: number,
  round: (client: Client) => Promise<T>,
): Promise<Record<ClientName, { results: T[]; failures: string[] }>> {
  const out = {
    ours: { results: [] as T[], failures: [] as string[] },
    baseline: { results: [] as T[], failures: [] as string[] },
  };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [BASELINE, OURS] : [OURS, BASELINE];
    for (const client of order) {
      try {
        out[client.name].results.push(await round(client));
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        out[client.name].failures.push(message);
        console.error(`  ${label}, round ${i + 1}, ${client.name}: failed: ${message}`);
      }
    }
    console.error(`  ${label}: round ${i + 1}/${rounds} done`);
  }
  return out;
}

/** A row of the table: one figure for both clients. */
interface Row {
  figure: string;
  unit: string;
  baseline: number[];
  ours: number[];
  /** The issue's target for ours ÷ baseline at p50, if any. */
  target?: number;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value >= 100 ? String(Math.round(value)) : value.toPrecision(3);
}

/** p50 and p95 of both sides and their ratios. */
function summarize(row: Row) {
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const b = sorted(row.baseline);
  const o = sorted(row.ours);
  const stats = {
    baseline: { p50: percentile(b, 0.5), p95: percentile(b, 0.95), n: b.length },
    ours: { p50: percentile(o, 0.5), p95: percentile(o, 0.95), n: o.length },
  };
  return {
    ...stats,
    ratioP50: stats.ours.p50 / stats.baseline.p50,
    ratioP95: stats.ours.p95 / stats.baseline.p95,
  };
}

function printTable(rows: Row[]) {
  const lines = [
    ["figure", "baseline p50 / p95", "ours p50 / p95", "ours ÷ baseline p50 / p95", "target"],
  ];
  for (const row of rows) {
    const s = summarize(row);
    const meets = row.target === undefined
      ? ""
      : `≤ ${row.target}× ${s.ratioP50 <= row.target ? "met" : "MISSED"}`;
    lines.push([
      `${row.figure} (${row.unit}, n = ${s.baseline.n}/${s.ours.n})`,
      `${formatNumber(s.baseline.p50)} / ${formatNumber(s.baseline.p95)}`,
      `${formatNumber(s.ours.p50)} / ${formatNumber(s.ours.p95)}`,
      `${formatRatio(s.ratioP50)} / ${formatRatio(s.ratioP95)}`,
      meets,
    ]);
  }
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const [i, line] of lines.entries()) {
    console.log(line.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

/** The milestones of a join, as the first event matching each pattern on one side. */
const MILESTONES: { who: "joiner" | "inside"; label: string; pattern: RegExp }[] = [
  { who: "joiner", label: "WebSocket open", pattern: /^WebSocket open$/ },
  { who: "joiner", label: "camera on", pattern: /^getUserMedia resolved/ },
  { who: "joiner", label: "join sent", pattern: /^sent join$/ },
  { who: "joiner", label: "addPeer received", pattern: /^received addPeer$/ },
  { who: "joiner", label: "joined received", pattern: /^received joined$/ },
  { who: "joiner", label: "peer connection created", pattern: /^pc\d+ created$/ },
  { who: "joiner", label: "offer created (local offer set)", pattern: /local offer set$/ },
  { who: "joiner", label: "offer sent", pattern: /^sent relaySessionDescription offer$/ },
  { who: "inside", label: "addPeer received", pattern: /^received addPeer$/ },
  { who: "inside", label: "offer received", pattern: /^received sessionDescription offer$/ },
  { who: "inside", label: "answer sent", pattern: /^sent relaySessionDescription answer$/ },
  { who: "joiner", label: "answer received", pattern: /^received sessionDescription answer$/ },
  { who: "joiner", label: "ICE connected", pattern: /ICE connected$/ },
  { who: "inside", label: "ICE connected", pattern: /ICE connected$/ },
  { who: "joiner", label: "DTLS connected", pattern: /DTLS connected$/ },
  { who: "inside", label: "DTLS connected", pattern: /DTLS connected$/ },
  { who: "joiner", label: "remote video attached", pattern: /^remote video attached$/ },
  { who: "inside", label: "remote video attached", pattern: /^remote video attached$/ },
  { who: "joiner", label: "remote video unmuted", pattern: /video unmuted$/ },
  { who: "inside", label: "remote video unmuted", pattern: /video unmuted$/ },
  { who: "joiner", label: "first remote frame", pattern: /^first frame/ },
  { who: "inside", label: "first remote frame", pattern: /^first frame/ },
];

function milestoneMs(result: PairResult, who: "joiner" | "inside", pattern: RegExp): number {
  return result.timeline.find((e) => e.who === who && pattern.test(e.what))?.ms ?? NaN;
}

/** Median ms after the joiner's click of each milestone, per client. */
function timelineTable(pairs: Record<ClientName, PairResult[]>) {
  const median = (values: number[]) => {
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
  };
  return MILESTONES.map(({ who, label, pattern }) => ({
    who,
    label,
    baseline: median(pairs.baseline.map((r) => milestoneMs(r, who, pattern))),
    ours: median(pairs.ours.map((r) => milestoneMs(r, who, pattern))),
  }));
}

function printTimeline(pairs: Record<ClientName, PairResult[]>) {
  console.log(
    "\nJoin timeline, two people: median ms after the joiner's Join click (negative: before it)",
  );
  console.log("side    milestone                         baseline      ours");
  for (const row of timelineTable(pairs)) {
    console.log(
      `${row.who.padEnd(7)} ${row.label.padEnd(32)} ${formatMs(row.baseline).padStart(9)} ${
        formatMs(row.ours).padStart(9)
      }`,
    );
  }
  const offers = (r: PairResult) => r.timeline.filter((e) => /^sent .* offer$/.test(e.what)).length;
  for (const name of ["baseline", "ours"] as const) {
    const counts = pairs[name].map(offers);
    console.log(`${name}: offers sent per pair (both sides) ${counts.join(", ")}`);
  }
  // One whole join of ours: the round with the median time to both playing.
  const ours = [...pairs.ours].sort((a, b) => a.bothMs - b.bothMs);
  const one = ours[Math.floor(ours.length / 2)];
  if (one === undefined) return;
  console.log(
    `\nOne join of ours in full (the median round, both playing at ${Math.round(one.bothMs)} ms):`,
  );
  let last = "";
  let repeats = 0;
  const flush = () => {
    if (repeats > 0) console.log(`${"".padStart(17)}(and ${repeats} more of the same)`);
    repeats = 0;
  };
  for (const e of one.timeline) {
    const key = `${e.who} ${e.what}`;
    if (key === last) {
      repeats++;
      continue;
    }
    flush();
    last = key;
    console.log(`${formatMs(e.ms).padStart(8)} ${e.who.padEnd(7)} ${e.what}`);
  }
  flush();
}

/** A ratio to two decimals; "–" where the baseline spent nothing to compare with. */
function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? ratio.toFixed(2) : "–";
}

function formatMs(ms: number): string {
  return Number.isFinite(ms) ? `${Math.round(ms)}` : "–";
}

/** Copies static/ and bench/baseline/ into one directory for the server to serve. */
async function assetDir(): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "client-bench-" });
  const copy = async (from: URL, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.isFile) await Deno.copyFile(new URL(entry.name, from), `${to}/${entry.name}`);
    }
  };
  try {
    await Deno.stat(new URL("static/app.js", ROOT));
  } catch {
    throw new Error("static/app.js is missing: run `deno task build` first");
  }
  await copy(new URL("static/", ROOT), dir);
  await copy(new URL("bench/baseline/", ROOT), `${dir}/baseline`);
  return new URL(`file://${dir}/`);
}

/** The real server in this process, serving our client and the baseline page. */
async function startBenchServer(staticDir: URL): Promise<RunningServer> {
  return await startServer(
    parseConfig([], {
      PORT: "0",
      HOST: "127.0.0.1",
      ICE_SERVERS: "[]",
      SESSION_SECRET: TEST_SECRET,
      DATA_DIR: await Deno.makeTempDir({ prefix: "client-bench-data-" }),
      // Every page of the run comes from 127.0.0.1: raise the per-address
      // budgets above what the bench's honest joins need.
      JOIN_BURST: "100000",
      JOINS_PER_MINUTE: "100000",
      MAX_CONNECTIONS_PER_ADDRESS: "10000",
    }),
    { logger: SILENT_LOGGER, staticDir },
  );
}

async function main() {
  const options = parseOptions(Deno.args);
  const started = performance.now();
  const staticDir = await assetDir();
  const server = await startBenchServer(staticDir);
  const base = `http://127.0.0.1:${server.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const broken: string[] = [];
  const check = <T>(label: string, runs: Record<ClientName, { results: T[] }>) => {
    for (const name of ["ours", "baseline"] as const) {
      if (runs[name].results.length === 0) broken.push(`${label}: no round of ${name} succeeded`);
    }
  };
  try {
    console.error(
      `client bench${options.smoke ? " (smoke)" : ""}: ${options.pairRounds} pair rounds, ` +
        `${options.callRounds} call rounds of 3 and of 4, ${base}`,
    );
    const pairs = await alternate(
      "(a) pair",
      options.pairRounds,
      (c) => pairRound(browser, c, base),
    );
    check("(a)", pairs);
    const calls3 = await alternate(
      "three-person call",
      options.callRounds,
      (c) => callRound(browser, c, base, { people: 3, options }),
    );
    check("three-person call", calls3);
    const calls4 = await alternate(
      "(b) four-person call",
      options.callRounds,
      (c) => callRound(browser, c, base, { people: 4, options }),
    );
    check("(b) four-person call", calls4);

    const side = <T>(runs: Record<ClientName, { results: T[] }>, pick: (r: T) => number[]) => ({
      baseline: runs.baseline.results.flatMap(pick),
      ours: runs.ours.results.flatMap(pick),
    });
    const rows: Row[] = [
      {
        figure: "(a) Join → joiner sees the other",
        unit: "ms",
        ...side(pairs, (r) => [r.joinerMs]),
        target: 1.05,
      },
      {
        figure: "(a) Join → the one inside sees the joiner",
        unit: "ms",
        ...side(pairs, (r) => [r.insideMs]),
        target: 1.05,
      },
      {
        figure: "(a) Join → both see each other",
        unit: "ms",
        ...side(pairs, (r) => [r.bothMs]),
        target: 1.05,
      },
      {
        figure: "(b) four, 0.5 s apart → all play all",
        unit: "ms from the first click",
        ...side(calls4, (r) => [r.allPlayingMs]),
        target: 1.2,
      },
      {
        figure: "three, 0.5 s apart → all play all",
        unit: "ms",
        ...side(calls3, (r) => [r.allPlayingMs]),
      },
      {
        figure: "(c) main thread busy, 3 people",
        unit: "ms/s per page",
        ...side(calls3, (r) => r.busyMsPerSecond),
        target: 1.5,
      },
      {
        figure: "(c) main thread busy, 4 people",
        unit: "ms/s per page",
        ...side(calls4, (r) => r.busyMsPerSecond),
        target: 1.5,
      },
      {
        figure: "    main thread CPU, 3 people",
        unit: "ms/s per page",
        ...side(calls3, (r) => r.cpuMsPerSecond),
      },
      {
        figure: "    main thread CPU, 4 people",
        unit: "ms/s per page",
        ...side(calls4, (r) => r.cpuMsPerSecond),
      },
      {
        figure: "    of it script, 3 people",
        unit: "ms/s per page",
        ...side(calls3, (r) => r.scriptMsPerSecond),
      },
      {
        figure: "    of it script, 4 people",
        unit: "ms/s per page",
        ...side(calls4, (r) => r.scriptMsPerSecond),
      },
      {
        figure: "    of it style and layout, 3 people",
        unit: "ms/s per page",
        ...side(calls3, (r) => r.layoutMsPerSecond),
      },
      {
        figure: "    of it style and layout, 4 people",
        unit: "ms/s per page",
        ...side(calls4, (r) => r.layoutMsPerSecond),
      },
      {
        figure: "    getStats calls, 3 people",
        unit: "per s per page",
        ...side(calls3, (r) => r.getStatsPerSecond),
      },
      {
        figure: "    getStats calls, 4 people",
        unit: "per s per page",
        ...side(calls4, (r) => r.getStatsPerSecond),
      },
      { figure: "(d) JS heap, 3 people", unit: "MB per page", ...side(calls3, (r) => r.heapMb) },
      { figure: "(d) JS heap, 4 people", unit: "MB per page", ...side(calls4, (r) => r.heapMb) },
    ];
    console.log();
    printTable(rows);
    printTimeline({ baseline: pairs.baseline.results, ours: pairs.ours.results });
    const seconds = (performance.now() - started) / 1000;
    console.log(`\n${Math.round(seconds)} s in all${broken.length ? `; BROKEN: ${broken}` : ""}`);
    if (options.json !== undefined) {
      await Deno.writeTextFile(
        options.json,
        JSON.stringify(
          {
            date: new Date().toISOString(),
            options,
            cores: navigator.hardwareConcurrency,
            summary: rows.map((row) => ({ ...row, ...summarize(row) })),
            timeline: timelineTable({ baseline: pairs.baseline.results, ours: pairs.ours.results }),
            raw: { pairs, calls3, calls4 },
          },
          null,
          2,
        ) + "\n",
      );
    }
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(new URL(staticDir), { recursive: true }).catch(() => {});
  }
  if (broken.length > 0) Deno.exit(1);
}

if (import.meta.main) await main();
