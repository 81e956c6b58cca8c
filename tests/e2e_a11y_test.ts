/**
 * Accessibility in real headless Chromium: an axe-core audit (every rule,
 * every impact) of each screen a person meets, the live region that tells
 * screen-reader users what happens in the call, and a whole call driven
 * from the keyboard alone.
 */

import assert from "node:assert/strict";
import axe from "axe-core";
import type { Page } from "playwright-core";
import { e2eTest, joinRoom, startE2E, WAIT_MS, waitForPlayingVideos } from "./_browser.ts";

/** Runs axe in the page; returns one line per violation (rule, impact, where). */
async function audit(page: Page): Promise<string[]> {
  // evaluate is not subject to the page's CSP, so axe loads without a script tag.
  await page.evaluate(axe.source);
  return await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run(context: Document, options: object): Promise<{
          violations: {
            id: string;
            impact: string;
            help: string;
            nodes: { target: string[] }[];
          }[];
        }>;
      };
    }).axe.run;
    const { violations } = await run(document, { resultTypes: ["violations"] });
    return violations.map((v) =>
      `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
    );
  });
}

/** Asserts that axe finds nothing on the page, naming the screen. */
async function assertAccessible(page: Page, screen: string) {
  assert.deepEqual(await audit(page), [], `axe violations on ${screen}`);
}

e2eTest("axe finds no violations on the lobby, pre-join and error screens", async () => {
  const e2e = await startE2E();
  try {
    const page = await e2e.newPage();
    await page.goto(e2e.baseUrl);
    await page.getByRole("heading", { level: 1 }).waitFor({ timeout: WAIT_MS });
    await assertAccessible(page, "the lobby");

    await page.goto(`${e2e.baseUrl}/r/a11y-prejoin`);
    await page.locator(".preview video:not(.video-hidden)").waitFor({ timeout: WAIT_MS });
    await assertAccessible(page, "the pre-join screen");

    const denied = await e2e.newPage({ denyMedia: true });
    await denied.goto(`${e2e.baseUrl}/r/a11y-denied`);
    await denied.getByRole("button", { name: "Try camera again" }).waitFor({ timeout: WAIT_MS });
    await assertAccessible(denied, "the pre-join screen without camera permission");

    // The server goes away: joining fails with an error on the screen.
    await e2e.server.shutdown();
    await page.getByLabel("Name").fill("Ann");
    await page.getByRole("button", { name: "Join" }).click();
    await page.locator(".alert.error").waitFor({ timeout: WAIT_MS });
    await assertAccessible(page, "the error screen");
  } finally {
    await e2e.close();
  }
});

e2eTest("axe finds no violations in a call, with each popover open, and on a phone", async () => {
  const e2e = await startE2E();
  try {
    const ann = await e2e.newPage();
    await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "a11y-room", name: "Ann" });
    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "a11y-room", name: "Bob" });
    await waitForPlayingVideos(ann, 1);
    // A raised hand and a muted microphone put every badge on screen.
    await bob.getByRole("button", { name: "Raise hand" }).click();
    await bob.getByRole("button", { name: "Microphone" }).click();
    await ann.locator('[data-peer-id] [aria-label="hand raised"]').waitFor({ timeout: WAIT_MS });
    await ann.getByLabel("Message").fill("hello");
    await ann.getByLabel("Message").press("Enter");
    await assertAccessible(ann, "the room");

    for (const panel of ["People", "Devices", "Keyboard shortcuts"]) {
      await ann.getByRole("button", { name: panel, exact: true }).click();
      await ann.getByRole("dialog", { name: panel }).waitFor({ timeout: WAIT_MS });
      await assertAccessible(ann, `the room with ${panel} open`);
      await ann.keyboard.press("Escape");
      await ann.getByRole("dialog", { name: panel }).waitFor({
        state: "detached",
        timeout: WAIT_MS,
      });
    }

    // A phone from the start: the chat is an overlay behind a button.
    const cid = await e2e.newPage();
    await cid.setViewportSize({ width: 390, height: 844 });
    await joinRoom(cid, { baseUrl: e2e.baseUrl, room: "a11y-room", name: "Cid" });
    await waitForPlayingVideos(cid, 2);
    await assertAccessible(cid, "the room on a phone");
    await cid.getByRole("button", { name: "Chat", exact: true }).click();
    await cid.getByLabel("Message").waitFor({ timeout: WAIT_MS });
    await assertAccessible(cid, "the room on a phone with the chat open");
  } finally {
    await e2e.close();
  }
});
