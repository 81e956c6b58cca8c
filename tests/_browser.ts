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

/** The real server in this process on a free port, ICE servers off, silent. */
export function startTestServer(): Promise<RunningServer> {
  return startServer(
    parseConfig([], {
      PORT: "0",
      HOST: "127.0.0.1",
      ICE_SERVERS: "[]",
      SESSION_SECRET: TEST_SECRET,
    }),
    { logger: SILENT_LOGGER },
  );
}

/** Starts the real server with `ICE_SERVERS=[]` and a headless Chromium. */
export async function startE2E(): Promise<E2E> {
  const server = await startTestServer();
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

/** Opens the room's pre-join screen, types `name` and clicks Join. */
export async function joinRoom(
  page: Page,
  { baseUrl, room, name }: { baseUrl: string; room: string; name: string },
) {
  await page.goto(`${baseUrl}/r/${room}`);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Join" }).click();
  await page.locator("[data-local]").waitFor({ timeout: WAIT_MS });
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
  await page.waitForFunction(
    async ([n, selector]) => {
      const videos = [...document.querySelectorAll<HTMLVideoElement>(`${selector} video`)];
      if (videos.length !== n || videos.some((v) => v.videoWidth === 0)) return false;
      const before = videos.map((v) => v.currentTime);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return videos.every((v, i) => v.currentTime > before[i]);
    },
    [count, tiles] as const,
    { timeout: WAIT_MS, polling: 250 },
  );
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

/**
 * Starts recording, in the page, every remote tile that disappears and
 * every remote video whose `currentTime` stands still for over a second.
 */
export async function watchContinuity(page: Page): Promise<void> {
  await page.evaluate(() => {
    const record = { removedTiles: [] as string[], stalls: [] as string[] };
    (globalThis as unknown as { __continuity: typeof record }).__continuity = record;
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        for (const node of m.removedNodes) {
          if (node instanceof HTMLElement && node.dataset.peerId) {
            record.removedTiles.push(node.dataset.peerId);
          }
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
    const last = new Map<string, { t: number; at: number }>();
    setInterval(() => {
      const now = performance.now();
      for (const video of document.querySelectorAll<HTMLVideoElement>("[data-peer-id] video")) {
        const id = video.closest<HTMLElement>("[data-peer-id]")!.dataset.peerId!;
        const prev = last.get(id);
        if (prev === undefined || video.currentTime !== prev.t) {
          last.set(id, { t: video.currentTime, at: now });
        } else if (now - prev.at > 1000) {
          record.stalls.push(id);
          last.set(id, { t: video.currentTime, at: now });
        }
      }
    }, 100);
  });
}

/** What {@linkcode watchContinuity} recorded so far. */
export function continuityOf(page: Page): Promise<{ removedTiles: string[]; stalls: string[] }> {
  return page.evaluate(() =>
    (globalThis as unknown as { __continuity: { removedTiles: string[]; stalls: string[] } })
      .__continuity
  );
}
