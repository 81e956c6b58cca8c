/**
 * Accessibility in real headless Chromium: an axe-core audit (every rule,
 * every impact) of each screen a person meets, the live region that tells
 * screen-reader users what happens in the call, and a whole call driven
 * from the keyboard alone.
 */

import assert from "node:assert/strict";
import axe from "axe-core";
import type { Page } from "playwright-core";
import {
  e2eTest,
  joinRoom,
  startE2E,
  WAIT_MS,
  waitForPlayingVideos,
  waitForRemoteCount,
} from "./_browser.ts";

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

/** The focused element's accessible name, whether it shows a focus ring, and its role. */
function focused(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (el === null || el === document.body) return { name: "", ring: false, dialog: "" };
    const label = el.id === "" ? null : document.querySelector(`label[for="${el.id}"]`);
    const name = (el.getAttribute("aria-label") ?? label?.textContent ?? el.textContent ?? "")
      .trim();
    const style = getComputedStyle(el);
    const ring = el.matches(":focus-visible") &&
      (style.boxShadow !== "none" || style.outlineStyle !== "none");
    return { name, ring, dialog: el.closest("[role=dialog]")?.getAttribute("aria-label") ?? "" };
  });
}

/**
 * Presses Tab (or Shift+Tab) until the element named `name` has focus,
 * checking that each stop shows a focus ring; returns the names passed.
 */
async function tabTo(page: Page, name: string, { back = false } = {}): Promise<string[]> {
  const passed: string[] = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    const now = await focused(page);
    if (now.name !== "") {
      assert.ok(now.ring, `"${now.name}" has focus but no visible focus ring`);
    }
    passed.push(now.name);
    if (now.name === name) return passed;
  }
  throw new Error(`Tab never reached "${name}"; passed ${passed.join(" → ")}`);
}

/** Waits until `page`'s live region has said `text`. */
async function waitForAnnouncement(page: Page, text: string) {
  await page.locator('[role="log"][aria-live="polite"] p', { hasText: text }).waitFor({
    state: "attached",
    timeout: WAIT_MS,
  });
}

e2eTest(
  "A whole call from the keyboard alone: join, toggle, popovers, chat, hand, leave",
  async () => {
    const e2e = await startE2E();
    try {
      const bob = await e2e.newPage();
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "kbd-room", name: "Bob" });

      const ann = await e2e.newPage();
      await ann.goto(e2e.baseUrl);
      await tabTo(ann, "Room name");
      await ann.keyboard.type("kbd-room");
      await ann.keyboard.press("Enter");
      await tabTo(ann, "Name");
      await ann.keyboard.type("Ann");
      await ann.keyboard.press("Enter");
      await ann.locator("[data-local]").waitFor({ timeout: WAIT_MS });
      await waitForPlayingVideos(ann, 1);
      await waitForAnnouncement(bob, "Ann joined");

      // The tab order follows the screen: the tiles, the chat, then the controls left to right.
      const order = await tabTo(ann, "Leave");
      const controls = [
        "Microphone",
        "Camera",
        "Share screen",
        "Raise hand",
        "People",
        "Devices",
        "Copy invite link",
        "Keyboard shortcuts",
        "Leave",
      ];
      assert.deepEqual(order.filter((name) => controls.includes(name)), controls);
      const at = (name: string) => order.findIndex((n) => n.startsWith(name));
      assert.ok(at("Connection to Bob") < at("Message"), `tiles before chat: ${order}`);
      assert.ok(at("Message") < at("Microphone"), `chat before controls: ${order}`);

      await tabTo(ann, "Microphone", { back: true });
      await ann.keyboard.press("Space");
      assert.equal(
        await ann.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed"),
        "false",
      );
      await bob.locator('[data-peer-id] [aria-label="muted"]').waitFor({ timeout: WAIT_MS });

      // A popover takes focus, Escape closes it, and focus is back on its button.
      for (const panel of ["People", "Devices", "Keyboard shortcuts"]) {
        await tabTo(ann, panel);
        await ann.keyboard.press("Enter");
        await ann.getByRole("dialog", { name: panel }).waitFor({ timeout: WAIT_MS });
        await ann.waitForFunction(
          (label) =>
            document.activeElement?.closest("[role=dialog]")?.getAttribute("aria-label") === label,
          panel,
          { timeout: WAIT_MS },
        ).catch(async () =>
          assert.fail(`${panel} did not take focus: ${(await focused(ann)).name}`)
        );
        await ann.keyboard.press("Tab");
        assert.equal((await focused(ann)).name, `Close ${panel}`);
        if (panel === "Devices") await ann.keyboard.press("Enter");
        else await ann.keyboard.press("Escape");
        await ann.getByRole("dialog", { name: panel }).waitFor({
          state: "detached",
          timeout: WAIT_MS,
        });
        await ann.waitForFunction(
          (label) => document.activeElement?.getAttribute("aria-label") === label,
          panel,
          { timeout: WAIT_MS },
        ).catch(async () =>
          assert.fail(`focus not back on ${panel}: ${(await focused(ann)).name}`)
        );
      }

      await tabTo(ann, "Message", { back: true });
      await ann.keyboard.type("typed, not clicked");
      await ann.keyboard.press("Enter");
      await bob.locator(".message", { hasText: "typed, not clicked" }).waitFor({
        timeout: WAIT_MS,
      });
      await waitForAnnouncement(bob, "Message from Ann: typed, not clicked");

      await tabTo(ann, "Raise hand");
      await ann.keyboard.press("Enter");
      await waitForAnnouncement(bob, "Ann raised a hand");

      await tabTo(ann, "Leave");
      await ann.keyboard.press("Enter");
      await ann.getByRole("button", { name: "Join" }).waitFor({ timeout: WAIT_MS });
      await waitForAnnouncement(bob, "Ann left");
      // Stats keep flowing, but the live region only ever said these things.
      const said = await bob.locator('[role="log"] p').allTextContents();
      assert.deepEqual(
        said.slice(-4),
        [
          "Ann joined",
          "Message from Ann: typed, not clicked",
          "Ann raised a hand",
          "Ann left",
        ].slice(-4),
      );
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest(
  "axe finds no violations at a locked door, knocking, the password prompt, for a host, and once removed",
  async () => {
    const e2e = await startE2E();
    try {
      const baseUrl = e2e.baseUrl;
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl, room: "a11y-host", name: "Ann" });
      await ann.locator("[data-local] .host-badge").waitFor({ timeout: WAIT_MS });
      const bob = await e2e.newPage();
      await joinRoom(bob, { baseUrl, room: "a11y-host", name: "Bob" });
      await waitForPlayingVideos(ann, 1);
      await ann.getByRole("button", { name: "Lock room" }).click();
      await ann.locator('button[aria-label="Lock room"][aria-pressed="true"]').waitFor({
        timeout: WAIT_MS,
      });

      const cid = await e2e.newPage();
      await cid.goto(`${baseUrl}/r/a11y-host`);
      await cid.getByLabel("Name").fill("Cid");
      // The door is known before anyone presses Join.
      await cid.getByRole("button", { name: "Ask to join" }).waitFor({ timeout: WAIT_MS });
      await assertAccessible(cid, "a locked room's door");
      await cid.getByRole("button", { name: "Ask to join" }).click();
      await cid.getByText("Waiting for a host to let you in").waitFor({ timeout: WAIT_MS });
      await assertAccessible(cid, "the knocking screen");

      await ann.getByRole("region", { name: "Requests to join" }).waitFor({ timeout: WAIT_MS });
      await assertAccessible(ann, "the room with a request to join");
      await ann.getByRole("button", { name: "Actions for Bob" }).click();
      await assertAccessible(ann, "the room with a tile's host menu open");
      await ann.getByRole("button", { name: "People" }).click();
      await ann.getByLabel("Room password").waitFor({ timeout: WAIT_MS });
      await assertAccessible(ann, "People as a host");
      await ann.getByLabel("Room password").fill("pw");
      await ann.getByRole("button", { name: "Set password" }).click();
      await ann.getByText("Newcomers need the password.").waitFor({ timeout: WAIT_MS });
      await ann.getByRole("dialog", { name: "People" }).locator("li", { hasText: "Bob" })
        .getByRole("button", { name: "Remove" }).click();
      await bob.getByText("You were removed from the room").waitFor({ timeout: WAIT_MS });
      await assertAccessible(bob, "the removed screen");
      await waitForRemoteCount(ann, 0);
      await assertAccessible(ann, "the room after a removal");

      // A newcomer to an unlocked room with a password is asked for it.
      await ann.getByRole("button", { name: "Lock room" }).click();
      const dee = await e2e.newPage();
      await dee.goto(`${baseUrl}/r/a11y-host`);
      await dee.getByLabel("Name").fill("Dee");
      // The field is there before anyone presses Join.
      await dee.getByLabel("Password").waitFor({ timeout: WAIT_MS });
      await assertAccessible(dee, "the password prompt");
    } finally {
      await e2e.close();
    }
  },
);

e2eTest(
  "The security code dialog passes axe, keeps the keyboard inside, closes with Escape and gives focus back",
  async () => {
    const e2e = await startE2E();
    try {
      const ann = await e2e.newPage();
      const bob = await e2e.newPage();
      await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "a11y-code", name: "Ann" });
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "a11y-code", name: "Bob" });
      await waitForPlayingVideos(ann, 1);

      // From the keyboard alone: the tile menu, its "Security code" item, the dialog.
      await ann.getByRole("button", { name: "Actions for Bob" }).focus();
      await ann.keyboard.press("Enter");
      await ann.keyboard.press("Tab");
      assert.equal(await ann.evaluate(() => document.activeElement?.textContent), "Security code");
      await ann.keyboard.press("Enter");
      const dialog = ann.getByRole("dialog", { name: "Bob" });
      await dialog.locator("[data-security-code]").waitFor({ timeout: WAIT_MS });
      assert.equal(
        await ann.evaluate(() => document.activeElement?.getAttribute("role")),
        "dialog",
        "focus moves into the dialog",
      );
      await assertAccessible(ann, "the security code dialog");
      // Tab and Shift+Tab go round the dialog's own controls and never leave it.
      const inside = () =>
        ann.evaluate(() =>
          document.querySelector('[role="dialog"]')?.contains(document.activeElement) ?? false
        );
      for (let i = 0; i < 5; i++) {
        await ann.keyboard.press("Tab");
        assert.ok(await inside(), `Tab ${i + 1} left the dialog`);
      }
      for (let i = 0; i < 5; i++) {
        await ann.keyboard.press("Shift+Tab");
        assert.ok(await inside(), `Shift+Tab ${i + 1} left the dialog`);
      }
      await dialog.getByRole("button", { name: "Mark as verified" }).focus();
      await ann.keyboard.press("Enter");
      await dialog.getByRole("button", { name: "Remove verification" }).waitFor({
        timeout: WAIT_MS,
      });
      await assertAccessible(ann, "the security code dialog of a verified person");
      await ann.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached", timeout: WAIT_MS });
      assert.equal(
        await ann.evaluate(() => document.activeElement?.getAttribute("aria-label")),
        "Actions for Bob",
        "focus goes back to the menu the dialog was opened from (which closed)",
      );
      assert.equal(await ann.locator(".tile-menu-items").count(), 0);
      await ann.locator("[data-peer-id] .security-badge.verified").waitFor({ timeout: WAIT_MS });
      await assertAccessible(ann, "a tile with the Verified badge");
      await ann.getByRole("button", { name: "People" }).click();
      await ann.getByRole("button", { name: "Security code for Bob" }).waitFor({
        timeout: WAIT_MS,
      });
      await assertAccessible(ann, "People with a verified person");
    } finally {
      await e2e.close();
    }
  },
);
