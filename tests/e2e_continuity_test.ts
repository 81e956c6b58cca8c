/**
 * No hiccups: remote videos that are playing keep playing — never restart
 * (`currentTime` going back) and never freeze for over a second — while
 * people join and while someone mutes, turns the camera off and on, and
 * shares a screen.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  continuityOf,
  e2eTest,
  joinRoom,
  startE2E,
  WAIT_MS,
  waitForPlayback,
  waitForPlayingVideos,
  watchContinuity,
} from "./_browser.ts";

const ROOM = "e2e-continuity";

e2eTest(
  "Playing remote videos never restart or freeze while people join, toggle media and share",
  async () => {
    const e2e = await startE2E();
    try {
      const pages: Page[] = [];
      const join = async (name: string) => {
        const page = await e2e.newPage();
        await joinRoom(page, { baseUrl: e2e.baseUrl, room: ROOM, name });
        pages.push(page);
        for (const p of pages) await waitForPlayingVideos(p, pages.length - 1);
        await watchContinuity(page);
        return page;
      };
      await join("Ann");
      const bob = await join("Bob");
      await join("Cid");
      // A 4th and a 5th person; every existing video is watched meanwhile,
      // and for a few seconds after (renegotiations, quality changes).
      await join("Dee");
      for (const page of pages) await waitForPlayback(page, 2.5);
      await join("Eve");
      for (const page of pages) await waitForPlayback(page, 2.5);

      const others = pages.filter((p) => p !== bob);
      const button = (name: string) => bob.getByRole("button", { name, exact: true });
      await button("Microphone").click();
      await others[0].locator('[data-peer-id] [aria-label="muted"]').waitFor({ timeout: WAIT_MS });
      await button("Microphone").click();
      await button("Camera").click();
      await others[0].locator('[data-peer-id] [aria-label="camera off"]').waitFor({
        timeout: WAIT_MS,
      });
      await button("Camera").click();
      for (const page of others) {
        await page.locator('[data-peer-id] [aria-label="camera off"]').waitFor({
          state: "detached",
          timeout: WAIT_MS,
        });
      }
      await button("Share screen").click();
      for (const page of others) {
        await waitForPlayingVideos(page, 1, { tiles: "[data-screen-of]" });
      }
      await button("Share screen").click();
      for (const page of others) {
        await page.locator("[data-screen-of]").waitFor({ state: "detached", timeout: WAIT_MS });
      }
      for (const page of pages) await waitForPlayback(page, 2.5);

      let worst = 0;
      let worstPicture = 0;
      for (const [i, page] of pages.entries()) {
        const seen = await continuityOf(page);
        worst = Math.max(worst, seen.worstFreezeMs);
        worstPicture = Math.max(worstPicture, seen.worstPictureFreezeMs);
        assert.deepEqual(seen.removedTiles, [], `page ${i}: no tile disappeared`);
        assert.deepEqual(
          seen.stalls,
          [],
          `page ${i}: no remote video went back or froze; events:\n${seen.events.join("\n")}`,
        );
      }
      console.log(
        `worst freeze of a remote video: currentTime ${worst} ms, picture ${worstPicture} ms`,
      );
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);
