/**
 * Calls that survive: a SIGKILLed and restarted server, and a signaling
 * connection cut under the clients, with media checked for continuity in
 * real headless Chromium.
 */

import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  continuityOf,
  e2eTest,
  freePort,
  joinRoom,
  newPage,
  remoteNames,
  startServerProcess,
  startTcpProxy,
  startTestServer,
  WAIT_MS,
  waitForPlayingVideos,
  watchContinuity,
} from "./_browser.ts";

async function waitForLink(page: Page, state: "reconnecting" | "connected") {
  const chip = page.locator('[data-link-status="reconnecting"]');
  if (state === "reconnecting") await chip.waitFor({ timeout: WAIT_MS });
  else await chip.waitFor({ state: "detached", timeout: WAIT_MS });
}

/** Three people in a call, watched for dropped tiles and frozen video. */
async function threeInACall(
  browser: Awaited<ReturnType<typeof chromium.launch>>,
  { baseUrl, room, errors }: { baseUrl: string; room: string; errors: string[] },
) {
  const pages: Page[] = [];
  for (const name of ["Ann", "Bob", "Cid"]) {
    const page = await newPage(browser, errors);
    await joinRoom(page, { baseUrl, room, name });
    pages.push(page);
  }
  for (const page of pages) await waitForPlayingVideos(page, 2);
  for (const page of pages) await watchContinuity(page, { maxFreezeMs: 1500 });
  return pages;
}

/**
 * No tile ever disappeared and no remote video went back or stood still
 * for over 1.5 s, judged over the whole call: the outage, the recovery and
 * a newcomer's join.
 */
async function assertContinuity(pages: Page[]) {
  for (const page of pages) {
    const record = await continuityOf(page);
    assert.deepEqual(record.removedTiles, [], "no tile disappeared");
    assert.deepEqual(
      record.stalls,
      [],
      `no remote video went back or stood still; events:\n${record.events.join("\n")}`,
    );
  }
}

e2eTest(
  "A call survives a SIGKILLed server that starts again, and a newcomer meshes with all",
  async () => {
    const dataDir = await Deno.makeTempDir();
    const port = freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    // No SESSION_SECRET: the generated one in DATA_DIR must survive the restart.
    let server = await startServerProcess(port, { DATA_DIR: dataDir });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const errors: string[] = [];
    try {
      const pages = await threeInACall(browser, { baseUrl, room: "e2e-restart", errors });
      const idsBefore = await Promise.all(pages.map((p) => remoteNames(p)));

      server.child.kill("SIGKILL");
      await server.exited;
      for (const page of pages) await waitForLink(page, "reconnecting");
      server = await startServerProcess(port, { DATA_DIR: dataDir });
      for (const page of pages) await waitForLink(page, "connected");
      for (const page of pages) await waitForPlayingVideos(page, 2);
      await assertContinuity(pages);
      assert.deepEqual(await Promise.all(pages.map((p) => remoteNames(p))), idsBefore);

      const dee = await newPage(browser, errors);
      await joinRoom(dee, { baseUrl, room: "e2e-restart", name: "Dee" });
      await waitForPlayingVideos(dee, 3);
      assert.deepEqual(await remoteNames(dee), ["Ann", "Bob", "Cid"]);
      for (const page of pages) await waitForPlayingVideos(page, 3);
      await assertContinuity(pages);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      server.child.kill("SIGKILL");
      await server.exited;
      await Deno.remove(dataDir, { recursive: true });
    }
  },
);

e2eTest("A call survives its signaling connections being cut, keeping identities", async () => {
  const server = await startTestServer();
  const proxy = startTcpProxy(server.port);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const errors: string[] = [];
  try {
    const baseUrl = `http://127.0.0.1:${proxy.port}`;
    const pages = await threeInACall(browser, { baseUrl, room: "e2e-cut", errors });
    const ids = await Promise.all(
      pages.map((p) =>
        p.locator("[data-peer-id]").evaluateAll((tiles) =>
          tiles.map((t) => t.getAttribute("data-peer-id")).sort()
        )
      ),
    );

    proxy.cut();
    for (const page of pages) await waitForLink(page, "reconnecting");
    for (const page of pages) await waitForLink(page, "connected");
    assert.equal(server.hub.metrics.resumes, 3, "every client took its identity back");
    assert.equal(server.hub.awayCount, 0);
    for (const [i, page] of pages.entries()) {
      const after = await page.locator("[data-peer-id]").evaluateAll((tiles) =>
        tiles.map((t) => t.getAttribute("data-peer-id")).sort()
      );
      assert.deepEqual(after, ids[i], "same peer ids, same tiles");
      await waitForPlayingVideos(page, 2);
    }
    await assertContinuity(pages);

    // Signaling works after the resume: a newcomer meshes with everyone.
    const dee = await newPage(browser, errors);
    await joinRoom(dee, { baseUrl, room: "e2e-cut", name: "Dee" });
    await waitForPlayingVideos(dee, 3);
    for (const page of pages) await waitForPlayingVideos(page, 3);
    await assertContinuity(pages);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    proxy.close();
    await server.shutdown();
  }
});
