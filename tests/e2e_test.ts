/**
 * End to end in real headless Chromium: the real server, the built client,
 * fake camera and microphone, several browser contexts meshing over
 * loopback.
 */

import assert from "node:assert/strict";
import {
  joinRoom,
  remoteNames,
  startE2E,
  WAIT_MS,
  waitForPlayingVideos,
  waitForRemoteCount,
} from "./_browser.ts";

const e2eTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });

e2eTest(
  "Three browsers join one room through the UI, see and hear each other, chat, and leave",
  async () => {
    const e2e = await startE2E();
    try {
      const names = ["Ann", "Bob", "Cid"];
      const pages = [];
      for (const name of names) {
        const page = await e2e.newPage();
        await joinRoom(page, e2e.baseUrl, "e2e-three", name);
        pages.push(page);
      }
      for (const [i, page] of pages.entries()) {
        await waitForPlayingVideos(page, 2);
        assert.deepEqual(
          await remoteNames(page),
          names.filter((_, j) => j !== i),
        );
        // Audio and video of one peer share one element.
        assert.equal(await page.locator("[data-peer-id] video").count(), 2);
        assert.equal(await page.locator("[data-peer-id] audio").count(), 0);
        assert.equal(
          await page.locator("[data-local] video").evaluate((
            v: HTMLVideoElement,
          ) => v.muted),
          true,
        );
      }

      const [ann, bob, cid] = pages;
      await ann.getByLabel("Message").fill("hello <b>all</b>");
      await ann.getByLabel("Message").press("Enter");
      for (const page of [bob, cid]) {
        const line = page.locator(".message", { hasText: "hello <b>all</b>" });
        await line.waitFor({ timeout: WAIT_MS });
        assert.equal(await line.locator(".sender").textContent(), "Ann");
        assert.equal(
          await page.locator(".message b").count(),
          0,
          "no HTML injection",
        );
      }
      await ann.screenshot({ path: "test-results/room.png" }).catch(() => {});
      if (Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
        await ann.screenshot({ path: "docs/screenshot.png" });
      }

      await cid.getByRole("button", { name: "Leave" }).click();
      await cid.getByRole("button", { name: "Join" }).waitFor({
        timeout: WAIT_MS,
      });
      for (const page of [ann, bob]) {
        await waitForRemoteCount(page, 1);
        assert.deepEqual(
          await remoteNames(page),
          page === ann ? ["Bob"] : ["Ann"],
        );
      }

      await bob.close();
      await waitForRemoteCount(ann, 0);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest(
  "A browser without camera or microphone joins receive-only and still sees the other",
  async () => {
    const e2e = await startE2E();
    try {
      const viewer = await e2e.newPage({ denyMedia: true });
      await viewer.goto(`${e2e.baseUrl}/r/e2e-receive-only`);
      await viewer.getByRole("alert").filter({ hasText: "denied" }).waitFor({
        timeout: WAIT_MS,
      });
      await viewer.getByLabel("Name").fill("Viewer");
      await viewer.getByRole("button", { name: "Join" }).click();
      await viewer.locator("[data-local]").waitFor({ timeout: WAIT_MS });

      const host = await e2e.newPage();
      await joinRoom(host, e2e.baseUrl, "e2e-receive-only", "Host");
      await waitForPlayingVideos(viewer, 1);
      assert.deepEqual(await remoteNames(viewer), ["Host"]);
      await waitForRemoteCount(host, 1);
      assert.deepEqual(await remoteNames(host), ["Viewer"]);
      // The viewer sends no video: the host sees their initials instead.
      await host.locator("[data-peer-id] .avatar").waitFor({
        timeout: WAIT_MS,
      });
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);
