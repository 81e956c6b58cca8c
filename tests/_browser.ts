/** Headless Chromium and a real server for end-to-end tests. */

import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { type ServerProcess, spawnServer } from "../scripts/_process.ts";
import { type RunningServer, startServer } from "../server.ts";

/** Where Debian's Chromium lives; CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ??
  "/usr/bin/chromium";

/** Flags for a sandbox-less, offline, fake-media Chromium. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Two fake cameras and microphones, so device switching can be tested.
  "--use-fake-device-for-media-stream=device-count=2",
  "--use-fake-ui-for-media-stream",
  // getDisplayMedia picks the (fake) screen without a picker.
  "--auto-select-desktop-capture-source=Entire screen",
];

/** A fixed resume-token secret, so tests never write a data directory. */
export const TEST_SECRET = "test-secret-0123456789abcdef0123456789";

/**
 * A browser test: Playwright keeps pipes and timers of its own, so Deno's
 * resource and op sanitizers are off (each test still closes what it opens).
 */
export function e2eTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

/** How long to wait for any one condition in a page. */
export const WAIT_MS = 30_000;

/** A server and a browser for one test, torn down together. */
export interface E2E {
  server: RunningServer;
  browser: Browser;
  baseUrl: string;
  errors: string[];
  /** A new page in its own context (its own storage, its own camera). */
  newPage(options?: { denyMedia?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

/** The real server in this process on a free port, ICE servers off, silent; `env` adds settings. */
export function startTestServer(env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(
    parseConfig([], {
      PORT: "0",
      HOST: "127.0.0.1",
      ICE_SERVERS: "[]",
      SESSION_SECRET: TEST_SECRET,
      // Retired ids are saved here; never in the work tree.
      DATA_DIR: Deno.makeTempDirSync({ prefix: "mesh-e2e-" }),
      ...env,
    }),
    { logger: SILENT_LOGGER },
  );
}

/**
 * Starts the real server with `ICE_SERVERS=[]` (plus `env`, e.g. TURN
 * settings) and a headless Chromium.
 */
export async function startE2E(env: Record<string, string> = {}): Promise<E2E> {
  const server = await startTestServer(env);
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const errors: string[] = [];
  const contexts: BrowserContext[] = [];
  return {
    server,
    browser,
    baseUrl,
    errors,
    async newPage({ denyMedia = false } = {}) {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 720 },
      });
      contexts.push(context);
      if (denyMedia) {
        await context.addInitScript(() => {
          navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(
              new DOMException("Permission denied", "NotAllowedError"),
            );
        });
      }
      const page = await context.newPage();
      page.on(
        "pageerror",
        (error) => errors.push(`${page.url()}: ${error.message}`),
      );
      return page;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await server.shutdown();
    },
  };
}

/** A page of its own (own storage, own camera) in `browser`; its uncaught errors go to `errors`. */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => errors.push(error.message));
  return page;
}

/** Opens the room's pre-join screen, types `name` and clicks Join (what follows is the caller's). */
export async function pressJoin(
  page: Page,
  { baseUrl, room, name }: { baseUrl: string; room: string; name: string },
) {
  await page.goto(`${baseUrl}/r/${room}`);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Join" }).click();
}

/** Opens the room's pre-join screen, types `name`, clicks Join and waits to be in. */
export async function joinRoom(
  page: Page,
  options: { baseUrl: string; room: string; name: string },
) {
  await pressJoin(page, options);
  await page.locator("[data-local]").waitFor({ timeout: WAIT_MS });
}

/**
 * In the page: whether exactly `n` videos match `${selector} video`, each
 * with frames and a `currentTime` past the one seen at the previous call.
 * Synchronous on purpose: an async predicate returns a Promise, which is
 * truthy, so `waitForFunction` would return at once without checking.
 */
export function videosPlaying([n, selector]: readonly [number, string]): boolean {
  const videos = [...document.querySelectorAll<HTMLVideoElement>(`${selector} video`)];
  const seen = ((globalThis as { __lastTimes?: WeakMap<HTMLVideoElement, number> })
    .__lastTimes ??= new WeakMap());
  const playing = videos.length === n &&
    videos.every((v) => v.videoWidth > 0 && v.currentTime > (seen.get(v) ?? Infinity));
  for (const v of videos) seen.set(v, v.currentTime);
  return playing;
}

/**
 * In the page: each video matching `${selector} video` — whose, size, time,
 * paused, tracks — to say what a failed wait for playing videos saw.
 */
export function describeVideos([_, selector]: readonly [number, string]): string {
  return [...document.querySelectorAll<HTMLVideoElement>(`${selector} video`)].map((video) => {
    const who = video.closest("[data-peer-id], [data-screen-of]")?.querySelector(".name")
      ?.textContent ?? "?";
    const tracks = (video.srcObject as MediaStream | null)?.getTracks() ?? [];
    return `${who} ${video.videoWidth}x${video.videoHeight} t=${video.currentTime.toFixed(2)} ` +
      `paused=${video.paused} tracks=${
        tracks.map((t) => `${t.kind}${t.muted ? "(muted)" : ""}:${t.readyState}`)
      }`;
  }).join("; ") || "no videos";
}

/**
 * Waits until the page shows exactly `count` tiles matching `tiles`
 * (default: remote participants; `[data-screen-of]` for screen shares),
 * each with a video that has frames (`videoWidth > 0`) and is playing
 * (`currentTime` advances).
 */
export async function waitForPlayingVideos(
  page: Page,
  count: number,
  { tiles = "[data-peer-id]" }: { tiles?: string } = {},
) {
  await page.waitForFunction(videosPlaying, [count, tiles] as const, {
    timeout: WAIT_MS,
    polling: 250,
  }).catch(async (error) => {
    const seen = await page.evaluate(describeVideos, [count, tiles] as const)
      .catch(() => "(page gone)");
    throw new Error(`Expected ${count} playing videos in ${tiles}, saw [${seen}]`, {
      cause: error,
    });
  });
}

/** The names on the remote tiles, sorted. */
export function remoteNames(page: Page): Promise<string[]> {
  return page.locator("[data-peer-id] .name").evaluateAll((names) =>
    names.map((n) => n.textContent ?? "").sort()
  );
}

/** Waits until the page shows exactly `count` remote tiles. */
export async function waitForRemoteCount(page: Page, count: number) {
  await page.waitForFunction(
    (n) => document.querySelectorAll("[data-peer-id]").length === n,
    count,
    { timeout: WAIT_MS },
  );
}

export { freePort } from "../scripts/_process.ts";

/** Starts `server.ts` as a child process on `port` (so a test can SIGKILL it). */
export function startServerProcess(
  port: number,
  env: Record<string, string>,
): Promise<ServerProcess> {
  return spawnServer(new URL("../server.ts", import.meta.url).pathname, {
    env: { PORT: String(port), HOST: "127.0.0.1", ICE_SERVERS: "[]", LOG_LEVEL: "warn", ...env },
  });
}

/** A loopback TCP proxy whose connections a test can cut at once. */
export interface TcpProxy {
  port: number;
  /** Drops every proxied connection abruptly (no WebSocket close frame). */
  cut(): void;
  close(): void;
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const closeQuietly = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  (async () => {
    for await (const inbound of listener) {
      open.add(inbound);
      Deno.connect({ hostname: "127.0.0.1", port: targetPort }).then((outbound) => {
        open.add(outbound);
        const pipe = (from: Deno.Conn, to: Deno.Conn) =>
          from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
            closeQuietly(from);
            closeQuietly(to);
          });
        pipe(inbound, outbound);
        pipe(outbound, inbound);
      }, () => closeQuietly(inbound));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut() {
      for (const conn of [...open]) closeQuietly(conn);
    },
    close() {
      this.cut();
      listener.close();
    },
  };
}

/** What {@linkcode watchContinuity} saw on one page. */
export interface Continuity {
  /** Peer ids of remote tiles that disappeared. */
  removedTiles: string[];
  /** Remote videos whose `currentTime` stood still longer than allowed, or went back. */
  stalls: string[];
  /** The longest time any watched remote video's `currentTime` stood still, ms. */
  worstFreezeMs: number;
  /**
   * The longest time a shown remote video presented no new frame, ms
   * (`getVideoPlaybackQuality`): `currentTime` follows the audio clock, so
   * this is the frozen picture a viewer would notice. Reported, not judged.
   */
  worstPictureFreezeMs: number;
  /** Media events on watched videos (mute, track added/removed, reload), for diagnosis. */
  events: string[];
}

/**
 * Starts recording, in the page, every remote tile that disappears and,
 * every 100 ms, each remote video's `currentTime`: a video that goes
 * backwards (its media pipeline restarted) or stands still for over
 * `maxFreezeMs` is a stall. Videos are watched from the moment they show
 * up. Media events on them are kept to explain a failure.
 */
export async function watchContinuity(
  page: Page,
  { maxFreezeMs = 1000 }: { maxFreezeMs?: number } = {},
): Promise<void> {
  await page.evaluate(installContinuityWatch, maxFreezeMs);
}

/**
 * The in-page half of {@linkcode watchContinuity}, for any browser's
 * `evaluate`: records into `globalThis.__continuity`.
 */
export function installContinuityWatch(limit: number): void {
  const record = {
    removedTiles: [] as string[],
    stalls: [] as string[],
    worstFreezeMs: 0,
    worstPictureFreezeMs: 0,
    events: [] as string[],
  };
  (globalThis as unknown as { __continuity: typeof record }).__continuity = record;
  const start = performance.now();
  const note = (text: string) => {
    if (record.events.length < 200) {
      record.events.push(`${Math.round(performance.now() - start)}ms ${text}`);
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      for (const node of m.removedNodes) {
        if (node instanceof HTMLElement && node.dataset.peerId) {
          record.removedTiles.push(node.dataset.peerId);
        }
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
  const nameOf = (video: HTMLVideoElement) =>
    video.closest("[data-peer-id]")?.querySelector(".name")?.textContent ?? "?";
  for (const type of ["emptied", "loadstart", "waiting"]) {
    document.addEventListener(type, (event) => {
      const video = event.target;
      if (video instanceof HTMLVideoElement && video.closest("[data-peer-id]")) {
        note(`${nameOf(video)} video ${type}`);
      }
    }, true);
  }
  const streams = new WeakSet<MediaStream>();
  const tracks = new WeakSet<MediaStreamTrack>();
  const watchTrack = (who: string, track: MediaStreamTrack) => {
    if (tracks.has(track)) return;
    tracks.add(track);
    track.addEventListener("mute", () => note(`${who} ${track.kind} muted`));
    track.addEventListener("unmute", () => note(`${who} ${track.kind} unmuted`));
  };
  const last = new Map<HTMLVideoElement, { t: number; at: number }>();
  const frames = new Map<HTMLVideoElement, { n: number; at: number }>();
  setInterval(() => {
    const now = performance.now();
    for (const video of document.querySelectorAll<HTMLVideoElement>("[data-peer-id] video")) {
      const who = nameOf(video);
      const n = video.getVideoPlaybackQuality().totalVideoFrames;
      const seenFrames = frames.get(video);
      if (video.classList.contains("video-hidden") || n === 0) {
        frames.delete(video); // camera off or not started: no picture to freeze
      } else if (seenFrames === undefined || n !== seenFrames.n) {
        frames.set(video, { n, at: now });
      } else {
        record.worstPictureFreezeMs = Math.max(
          record.worstPictureFreezeMs,
          Math.round(now - seenFrames.at),
        );
      }
      const stream = video.srcObject as MediaStream | null;
      if (stream !== null && !streams.has(stream)) {
        streams.add(stream);
        stream.addEventListener("addtrack", (e) => note(`${who} stream added ${e.track.kind}`));
        stream.addEventListener("removetrack", (e) => note(`${who} stream lost ${e.track.kind}`));
      }
      for (const track of stream?.getTracks() ?? []) watchTrack(who, track);
      const prev = last.get(video);
      const t = video.currentTime;
      if (prev === undefined || (t === 0 && prev.t === 0)) {
        // Not playing yet: freezes count from the first frame on.
        last.set(video, { t, at: now });
        continue;
      }
      if (t < prev.t) {
        record.stalls.push(
          `${who}: currentTime went back ${prev.t.toFixed(2)} -> ${t.toFixed(2)}`,
        );
        note(`${who} went back ${prev.t.toFixed(2)} -> ${t.toFixed(2)}`);
      }
      if (t !== prev.t) {
        last.set(video, { t, at: now });
        continue;
      }
      const frozen = now - prev.at;
      record.worstFreezeMs = Math.max(record.worstFreezeMs, Math.round(frozen));
      if (
        frozen > limit && !record.stalls.includes(`${who}: frozen since ${prev.t.toFixed(2)}`)
      ) {
        record.stalls.push(`${who}: frozen since ${prev.t.toFixed(2)}`);
        note(`${who} frozen at ${prev.t.toFixed(2)}`);
      }
    }
  }, 100);
}

/** What {@linkcode watchContinuity} recorded so far. */
export function continuityOf(page: Page): Promise<Continuity> {
  return page.evaluate(readContinuity);
}

/** The in-page half of {@linkcode continuityOf}. */
export function readContinuity(): Continuity {
  return (globalThis as unknown as { __continuity: Continuity }).__continuity;
}

/**
 * Waits until every remote video on the page has played `seconds` more
 * than when this was called: a window of call time to watch, measured in
 * media time rather than slept.
 */
export async function waitForPlayback(page: Page, seconds: number) {
  const start = await page.locator("[data-peer-id] video").evaluateAll((videos) =>
    videos.map((v) => (v as HTMLVideoElement).currentTime)
  );
  await page.waitForFunction(
    ([from, more]) => {
      const videos = [...document.querySelectorAll<HTMLVideoElement>("[data-peer-id] video")];
      return videos.length === from.length &&
        videos.every((v, i) => v.currentTime >= from[i] + more);
    },
    [start, seconds] as const,
    { timeout: WAIT_MS, polling: 100 },
  );
}
