/**
 * A call spread over two instances sharing one Redis, behind a load
 * balancer: one instance is SIGKILLed, its people's pages resume on the
 * other through the balancer, and the call goes on — no tile lost, no
 * remote video standing still over 1.5 s — and a newcomer meshes with all.
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import type { ServerProcess } from "../scripts/_process.ts";
import { type Balancer, startBalancer } from "./_balancer.ts";
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
  TEST_SECRET,
  WAIT_MS,
  waitForPlayback,
  waitForPlayingVideos,
  watchContinuity,
} from "./_browser.ts";
import { killAll } from "./_cluster.ts";
import { startRedis } from "./_redis.ts";

const ROOM = "e2e-cluster";

/** Which instance a page's signaling goes through, as its own server reports it. */
function instanceOf(page: Page): Promise<string> {
  return page.evaluate(async () => (await (await fetch("/healthz")).json()).instance);
}

/** What a two-instance call test gets: servers on one Redis behind a balancer, and a browser. */
interface TwoInstances {
  ports: number[];
  servers: ServerProcess[];
  balancer: Balancer;
  browser: Browser;
  /** Page errors, which the test expects to stay empty. */
  errors: string[];
  /** The balancer's origin, where pages are opened. */
  baseUrl: string;
}

/** Runs `fn` with two instances on one Redis behind a balancer, and stops them all after. */
async function withTwoInstances(fn: (setup: TwoInstances) => Promise<void>): Promise<void> {
  const redis = await startRedis();
  const ports = [freePort(), freePort()];
  const servers: ServerProcess[] = [];
  const balancer = startBalancer(ports);
  let browser: Browser | undefined;
  try {
    for (const port of ports) {
      servers.push(
        await startServerProcess(port, { REDIS_URL: redis.url, SESSION_SECRET: TEST_SECRET }),
      );
    }
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const baseUrl = `http://127.0.0.1:${balancer.port}`;
    await fn({ ports, servers, balancer, browser, errors: [], baseUrl });
  } finally {
    await browser?.close();
    balancer.close();
    await killAll(servers);
    await redis.kill();
  }
}

e2eTest(
  "A call over two instances survives one being SIGKILLed, and a newcomer meshes with all",
  async () => {
    await withTwoInstances(async ({ servers, balancer, browser, errors, baseUrl }) => {
      // Ann on instance 0, Bob and Cid on instance 1.
      const pages: Page[] = [];
      for (const [name, instance] of [["Ann", 0], ["Bob", 1], ["Cid", 1]] as const) {
        balancer.pin(instance);
        const page = await newPage(browser, errors);
        await joinRoom(page, { baseUrl, room: ROOM, name });
        pages.push(page);
      }
      for (const page of pages) await waitForPlayingVideos(page, 2);
      const [before0, before1] = [await instanceOf(pages[0]), await instanceOf(pages[1])];
      assert.notEqual(before0, before1, "the call spans two instances");
      for (const page of pages) await watchContinuity(page, { maxFreezeMs: 1500 });
      const namesBefore = await Promise.all(pages.map((p) => remoteNames(p)));

      balancer.pin(null);
      servers[1].child.kill("SIGKILL");
      await servers[1].exited;
      // Bob's and Cid's pages resume on instance 0 through the balancer.
      for (const page of pages) {
        await page.locator('[data-link-status="reconnecting"]').waitFor({
          state: "detached",
          timeout: WAIT_MS,
        });
      }
      for (const page of pages) await waitForPlayingVideos(page, 2);
      assert.equal(await instanceOf(pages[1]), before0);
      // Media plays on past the moment instance 1's death is noticed (5 s of silence).
      await waitForPlayback(pages[0], 6);
      for (const page of pages) await waitForPlayingVideos(page, 2);
      assert.deepEqual(await Promise.all(pages.map((p) => remoteNames(p))), namesBefore);

      const dee = await newPage(browser, errors);
      await joinRoom(dee, { baseUrl, room: ROOM, name: "Dee" });
      await waitForPlayingVideos(dee, 3);
      assert.deepEqual(await remoteNames(dee), ["Ann", "Bob", "Cid"]);
      for (const page of pages) await waitForPlayingVideos(page, 3);

      let worst = 0;
      for (const [i, page] of pages.entries()) {
        const record = await continuityOf(page);
        worst = Math.max(worst, record.worstFreezeMs);
        assert.deepEqual(record.removedTiles, [], `page ${i}: no tile disappeared`);
        assert.deepEqual(
          record.stalls,
          [],
          `page ${i}: no remote video went back or stood still; events:\n${
            record.events.join("\n")
          }`,
        );
      }
      console.log(`worst freeze of a remote video across the instance's death: ${worst} ms`);
      assert.deepEqual(errors, []);
    });
  },
);

e2eTest(
  "After their instance dies, people resume to who came and who went meanwhile, keeping their own call",
  async () => {
    await withTwoInstances(async ({ ports, servers, balancer, browser, errors, baseUrl }) => {
      // Ann on instance 0, Bob and Cid on instance 1.
      const pages: Page[] = [];
      for (const [name, instance] of [["Ann", 0], ["Bob", 1], ["Cid", 1]] as const) {
        balancer.pin(instance);
        const page = await newPage(browser, errors);
        await joinRoom(page, { baseUrl, room: ROOM, name });
        pages.push(page);
      }
      const [annPage, bobPage, cidPage] = pages;
      for (const page of pages) await waitForPlayingVideos(page, 2);
      for (const page of [bobPage, cidPage]) await watchContinuity(page, { maxFreezeMs: 1500 });

      // Instance 1 dies, and Bob's and Cid's pages cannot reach any instance for a while…
      balancer.pin(null);
      balancer.hold(true);
      servers[1].child.kill("SIGKILL");
      await servers[1].exited;
      for (const page of [bobPage, cidPage]) {
        await page.locator('[data-link-status="reconnecting"]').waitFor({ timeout: WAIT_MS });
      }
      // …during which Ann leaves and Dee joins (straight to instance 0).
      await annPage.getByRole("button", { name: "Leave" }).click();
      const dee = await newPage(browser, errors);
      await joinRoom(dee, { baseUrl: `http://127.0.0.1:${ports[0]}`, room: ROOM, name: "Dee" });

      // They reach instance 0 again within their window: Ann is gone, Dee is there.
      balancer.hold(false);
      for (const page of [bobPage, cidPage]) {
        await page.locator('[data-link-status="reconnecting"]').waitFor({
          state: "detached",
          timeout: WAIT_MS,
        });
      }
      for (const page of [bobPage, cidPage, dee]) await waitForPlayingVideos(page, 2);
      assert.deepEqual(await remoteNames(bobPage), ["Cid", "Dee"]);
      assert.deepEqual(await remoteNames(cidPage), ["Bob", "Dee"]);
      assert.deepEqual(await remoteNames(dee), ["Bob", "Cid"]);
      // Bob and Cid's own connection stood throughout: never renegotiated, never frozen.
      for (const [page, other] of [[bobPage, "Cid"], [cidPage, "Bob"]] as const) {
        const record = await continuityOf(page);
        const theirs = record.stalls.filter((s) => s.startsWith(`${other}:`));
        assert.deepEqual(theirs, [], `${other}'s video played on; events:\n${record.events}`);
      }
      assert.deepEqual(errors, []);
    });
  },
);
