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
  startTcpProxy,
  WAIT_MS,
  waitForPlayingVideos,
  waitForRemoteCount,
} from "./_browser.ts";

/** Waits until `page` shows `name`'s tile (or our own) with the Host badge. */
async function waitForHost(page: Page, name: string) {
  await page.locator(`figure[aria-label="${name}"] .host-badge`).waitFor({ timeout: WAIT_MS });
}

/**
 * Opens the room and, without pressing Join, finds it locked and presses
 * "Ask to join".
 */
async function knock(
  page: Page,
  { baseUrl, room, name }: { baseUrl: string; room: string; name: string },
) {
  await page.goto(`${baseUrl}/r/${room}`);
  await page.getByLabel("Name").fill(name);
  await page.getByText("This room is locked").waitFor({ timeout: WAIT_MS });
  await page.getByRole("button", { name: "Ask to join", exact: true }).click();
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

e2eTest(
  "Opening a locked room shows Ask to join without pressing Join, and follows the door",
  async () => {
    const e2e = await startE2E();
    try {
      const baseUrl = e2e.baseUrl;
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl, room: "auth-door", name: "Ann" });
      await waitForHost(ann, "Ann (you)");
      await ann.getByRole("button", { name: "Lock room" }).click();
      await ann.locator('button[aria-label="Lock room"][aria-pressed="true"]').waitFor({
        timeout: WAIT_MS,
      });

      const bob = await e2e.newPage();
      await bob.goto(`${baseUrl}/r/auth-door`);
      await bob.getByText("This room is locked").waitFor({ timeout: WAIT_MS });
      await bob.getByRole("button", { name: "Ask to join", exact: true }).waitFor({
        timeout: WAIT_MS,
      });
      // Unlocked while Bob waits on the pre-join screen: it says Join again.
      await ann.getByRole("button", { name: "Lock room" }).click();
      await bob.getByRole("button", { name: "Join", exact: true }).waitFor({ timeout: WAIT_MS });
      assert.equal(await bob.getByText("This room is locked").count(), 0);
      // A password set meanwhile: the field appears.
      await ann.getByRole("button", { name: "People" }).click();
      await ann.getByLabel("Room password").fill("open sesame");
      await ann.getByRole("button", { name: "Set password" }).click();
      await bob.getByLabel("Password").waitFor({ timeout: WAIT_MS });
      // Locked again: a lock comes before the password.
      await ann.keyboard.press("Escape");
      await ann.getByRole("button", { name: "Lock room" }).click();
      await bob.getByText("This room is locked").waitFor({ timeout: WAIT_MS });
      assert.equal(await bob.getByLabel("Password").count(), 0);
      await bob.getByLabel("Name").fill("Bob");
      await bob.getByRole("button", { name: "Ask to join", exact: true }).click();
      const requests = ann.getByRole("region", { name: "Requests to join" });
      await requests.getByText("Bob").waitFor({ timeout: WAIT_MS });
      await requests.getByRole("button", { name: "Admit" }).click();
      await waitForPlayingVideos(bob, 1);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest("A password from an invite link lets people in; without it they are asked", async () => {
  const e2e = await startE2E();
  try {
    const baseUrl = e2e.baseUrl;
    const ann = await e2e.newPage();
    await joinRoom(ann, { baseUrl, room: "auth-password", name: "Ann" });
    await waitForHost(ann, "Ann (you)");
    await ann.getByRole("button", { name: "People" }).click();
    await ann.getByLabel("Room password").fill("open sesame");
    await ann.getByRole("button", { name: "Set password" }).click();
    await ann.getByText("Newcomers need the password.").waitFor({ timeout: WAIT_MS });
    await ann.getByRole("button", { name: "Copy invite link with password" }).waitFor({
      timeout: WAIT_MS,
    });

    // The link carries the password after '#': the server never sees it in a URL.
    const bob = await e2e.newPage();
    await joinRoom(bob, {
      baseUrl,
      room: `auth-password#${new URLSearchParams({ password: "open sesame" })}`,
      name: "Bob",
    });
    await waitForPlayingVideos(bob, 1);

    // Opened without the password: the field is there before anyone presses Join.
    const cid = await e2e.newPage();
    await cid.goto(`${baseUrl}/r/auth-password`);
    await cid.getByLabel("Password").waitFor({ timeout: WAIT_MS });
    await cid.getByLabel("Name").fill("Cid");
    await cid.getByLabel("Password").fill("open says me");
    await cid.getByRole("button", { name: "Join" }).click();
    await cid.getByText("That password is not right").waitFor({ timeout: WAIT_MS });
    await cid.getByLabel("Password").fill("open sesame");
    await cid.getByRole("button", { name: "Join" }).click();
    await waitForPlayingVideos(cid, 2);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});

e2eTest(
  "A removed person's tile goes everywhere at once; they are told, and must knock to return",
  async () => {
    const e2e = await startE2E();
    try {
      const baseUrl = e2e.baseUrl;
      const [ann, bob, cid] = [await e2e.newPage(), await e2e.newPage(), await e2e.newPage()];
      await joinRoom(ann, { baseUrl, room: "auth-remove", name: "Ann" });
      await joinRoom(bob, { baseUrl, room: "auth-remove", name: "Bob" });
      await joinRoom(cid, { baseUrl, room: "auth-remove", name: "Cid" });
      for (const page of [ann, bob, cid]) await waitForPlayingVideos(page, 2);

      // Ask to mute first: Cid's microphone goes off and Cid is told.
      await ann.getByRole("button", { name: "Actions for Cid" }).click();
      await ann.getByRole("button", { name: "Ask to mute" }).click();
      await cid.getByText("A host muted your microphone").waitFor({ timeout: WAIT_MS });
      assert.equal(
        await cid.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed"),
        "false",
      );

      await ann.getByRole("button", { name: "People" }).click();
      const row = ann.getByRole("dialog", { name: "People" }).locator("li", { hasText: "Cid" });
      const removedAt = performance.now();
      await row.getByRole("button", { name: "Remove" }).click();
      await cid.getByText("You were removed from the room").waitFor({ timeout: WAIT_MS });
      await waitForRemoteCount(ann, 1);
      await waitForRemoteCount(bob, 1);
      const took = performance.now() - removedAt;
      assert.ok(took < 3000, `the tile went everywhere within 3 s (took ${Math.round(took)} ms)`);
      // The host is offered to lock the room behind them.
      await ann.getByRole("button", { name: "Lock the room now" }).waitFor({ timeout: WAIT_MS });

      // Back from the same browser: the room is closed to them until a host admits,
      // and the pre-join screen says so before they press anything.
      await cid.getByText("This room is locked").waitFor({ timeout: WAIT_MS });
      await cid.getByRole("button", { name: "Ask to join", exact: true }).click();
      const requests = ann.getByRole("region", { name: "Requests to join" });
      await requests.getByText("Cid").waitFor({ timeout: WAIT_MS });
      await requests.getByRole("button", { name: "Admit" }).click();
      await waitForPlayingVideos(cid, 2);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest("When the host leaves, the person there longest becomes host and can admit", async () => {
  const e2e = await startE2E();
  try {
    const baseUrl = e2e.baseUrl;
    const [ann, bob, cid] = [await e2e.newPage(), await e2e.newPage(), await e2e.newPage()];
    await joinRoom(ann, { baseUrl, room: "auth-handover", name: "Ann" });
    await joinRoom(bob, { baseUrl, room: "auth-handover", name: "Bob" });
    await joinRoom(cid, { baseUrl, room: "auth-handover", name: "Cid" });
    await waitForHost(cid, "Ann");
    await ann.getByRole("button", { name: "Lock room" }).click();

    await ann.getByRole("button", { name: "Leave" }).click();
    await waitForHost(cid, "Bob");
    await waitForHost(bob, "Bob (you)");
    await bob.locator('button[aria-label="Lock room"][aria-pressed="true"]').waitFor({
      timeout: WAIT_MS,
    });

    const dee = await e2e.newPage();
    await knock(dee, { baseUrl, room: "auth-handover", name: "Dee" });
    const requests = bob.getByRole("region", { name: "Requests to join" });
    await requests.getByText("Dee").waitFor({ timeout: WAIT_MS });
    await requests.getByRole("button", { name: "Admit" }).click();
    await waitForPlayingVideos(dee, 2);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});

e2eTest("A host whose connection drops and resumes within the window is still host", async () => {
  const e2e = await startE2E();
  const proxy = startTcpProxy(e2e.server.port);
  try {
    const ann = await e2e.newPage();
    // Only Ann reaches the server through the proxy that gets cut.
    await joinRoom(ann, {
      baseUrl: `http://127.0.0.1:${proxy.port}`,
      room: "auth-drop",
      name: "Ann",
    });
    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "auth-drop", name: "Bob" });
    await waitForHost(bob, "Ann");
    await waitForPlayingVideos(bob, 1);

    proxy.cut();
    await ann.locator('[data-link-status="reconnecting"]').waitFor({ timeout: WAIT_MS });
    await ann.locator('[data-link-status="reconnecting"]').waitFor({
      state: "detached",
      timeout: WAIT_MS,
    });
    assert.equal(e2e.server.hub.metrics.resumes, 1);
    await waitForHost(bob, "Ann");
    await waitForHost(ann, "Ann (you)");
    assert.equal(await bob.locator(".host-badge").count(), 1, "Bob did not take the role");
    assert.equal(await bob.getByRole("button", { name: "Lock room" }).count(), 0);
    // Still host in deed: Ann locks the room.
    await ann.getByRole("button", { name: "Lock room" }).click();
    await ann.locator('button[aria-label="Lock room"][aria-pressed="true"]').waitFor({
      timeout: WAIT_MS,
    });
    assert.deepEqual(e2e.errors, []);
  } finally {
    proxy.close();
    await e2e.close();
  }
});
