/**
 * Room authority in real headless Chromium: a host, a locked room people
 * knock on, admission and denial, a password from an invite link, removal,
 * and the host role passing on.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  e2eTest,
  joinRoom,
  remoteNames,
  startE2E,
  WAIT_MS,
  waitForPlayingVideos,
  waitForRemoteCount,
} from "./_browser.ts";

/** Waits until `page` shows `name`'s tile (or our own) with the Host badge. */
async function waitForHost(page: Page, name: string) {
  await page.locator(`figure[aria-label="${name}"] .host-badge`).waitFor({ timeout: WAIT_MS });
}

/** Opens the room and presses "Ask to join" once the page says it is locked. */
async function knock(
  page: Page,
  { baseUrl, room, name }: { baseUrl: string; room: string; name: string },
) {
  await page.goto(`${baseUrl}/r/${room}`);
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByText("This room is locked").waitFor({ timeout: WAIT_MS });
  await page.getByRole("button", { name: "Ask to join" }).click();
  await page.getByText("Waiting for a host to let you in").waitFor({ timeout: WAIT_MS });
}

e2eTest("A host locks the room; a knock is admitted and meshes, another is denied", async () => {
  const e2e = await startE2E();
  try {
    const baseUrl = e2e.baseUrl;
    const ann = await e2e.newPage();
    await joinRoom(ann, { baseUrl, room: "auth-lock", name: "Ann" });
    await waitForHost(ann, "Ann (you)");
    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl, room: "auth-lock", name: "Bob" });
    await waitForHost(bob, "Ann");
    assert.equal(await bob.getByRole("button", { name: "Lock room" }).count(), 0, "not a host");

    const lock = ann.getByRole("button", { name: "Lock room" });
    await lock.click();
    await ann.locator('button[aria-label="Lock room"][aria-pressed="true"]').waitFor({
      timeout: WAIT_MS,
    });

    const cid = await e2e.newPage();
    await knock(cid, { baseUrl, room: "auth-lock", name: "Cid" });
    const requests = ann.getByRole("region", { name: "Requests to join" });
    await requests.getByText("Cid").waitFor({ timeout: WAIT_MS });
    // Waiting, Cid gets nothing from the room.
    assert.equal(await cid.locator("[data-peer-id]").count(), 0);
    await waitForRemoteCount(ann, 1);
    await requests.getByRole("button", { name: "Admit" }).click();
    await cid.locator("[data-local]").waitFor({ timeout: WAIT_MS });
    await waitForPlayingVideos(cid, 2);
    await waitForPlayingVideos(ann, 2);
    assert.deepEqual(await remoteNames(cid), ["Ann", "Bob"]);

    const dee = await e2e.newPage();
    await knock(dee, { baseUrl, room: "auth-lock", name: "Dee" });
    await requests.getByText("Dee").waitFor({ timeout: WAIT_MS });
    await requests.getByRole("button", { name: "Deny" }).click();
    await dee.getByText("A host did not let you in").waitFor({ timeout: WAIT_MS });
    assert.equal(await dee.locator("[data-local]").count(), 0);
    await waitForRemoteCount(ann, 2);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});
