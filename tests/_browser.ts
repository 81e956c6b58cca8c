/** Headless Chromium and a real server for end-to-end tests. */

import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
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

/** Starts the real server with `ICE_SERVERS=[]` and a headless Chromium. */
export async function startE2E(): Promise<E2E> {
  const server = await startServer(
    parseConfig([], {
      PORT: "0",
      HOST: "127.0.0.1",
      ICE_SERVERS: "[]",
      SESSION_SECRET: TEST_SECRET,
    }),
    { logger: SILENT_LOGGER },
  );
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
  baseUrl: string,
  room: string,
  name: string,
) {
  await page.goto(`${baseUrl}/r/${room}`);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Join" }).click();
  await page.locator("[data-local]").waitFor({ timeout: WAIT_MS });
}

/**
 * Waits until the page shows exactly `count` remote tiles, each with a
 * video that has frames (`videoWidth > 0`) and is playing (`currentTime`
 * advances).
 */
export async function waitForPlayingVideos(page: Page, count: number) {
  await page.waitForFunction(
    async (n) => {
      const videos = [
        ...document.querySelectorAll<HTMLVideoElement>("[data-peer-id] video"),
      ];
      if (
        videos.length !== n || videos.some((v) => v.videoWidth === 0)
      ) return false;
      const before = videos.map((v) => v.currentTime);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return videos.every((v, i) => v.currentTime > before[i]);
    },
    count,
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
