/**
 * End to end in real headless Chromium: the real server, the built client,
 * fake camera and microphone, several browser contexts meshing over
 * loopback.
 */

import assert from "node:assert/strict";
import {
  e2eTest,
  joinRoom,
  remoteNames,
  startE2E,
  WAIT_MS,
  waitForPlayingVideos,
  waitForRemoteCount,
} from "./_browser.ts";

e2eTest(
  "Three browsers join one room through the UI, see and hear each other, chat, and leave",
  async () => {
    const e2e = await startE2E();
    try {
      const names = ["Ann", "Bob", "Cid"];
      const pages = [];
      for (const name of names) {
        const page = await e2e.newPage();
        await joinRoom(page, { baseUrl: e2e.baseUrl, room: "e2e-three", name });
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
      await joinRoom(host, { baseUrl: e2e.baseUrl, room: "e2e-receive-only", name: "Host" });
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

e2eTest(
  "Screen share reaches the others as an extra tile, also from a late joiner without a camera",
  async () => {
    const e2e = await startE2E();
    try {
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "e2e-screen", name: "Ann" });
      const bob = await e2e.newPage({ denyMedia: true });
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "e2e-screen", name: "Bob" });
      await waitForRemoteCount(ann, 1);

      await bob.getByRole("button", { name: "Share screen" }).click();
      const screen = ann.locator("[data-screen-of] video");
      await ann.getByRole("figure", { name: "Bob's screen" }).waitFor({ timeout: WAIT_MS });
      await waitForPlayingVideos(ann, 1, { tiles: "[data-screen-of]" });
      assert.equal(await screen.count(), 1);
      assert.equal(
        await ann.locator("[data-peer-id]").count(),
        1,
        "the share is not a participant",
      );
      assert.equal(
        await bob.getByRole("button", { name: "Share screen" }).getAttribute("aria-pressed"),
        "true",
      );

      // Someone joining while the share is on gets it too.
      const cid = await e2e.newPage();
      await joinRoom(cid, { baseUrl: e2e.baseUrl, room: "e2e-screen", name: "Cid" });
      await cid.getByRole("figure", { name: "Bob's screen" }).waitFor({ timeout: WAIT_MS });
      await waitForPlayingVideos(cid, 1, { tiles: "[data-screen-of]" });

      await bob.getByRole("button", { name: "Share screen" }).click();
      await ann.locator("[data-screen-of]").waitFor({ state: "detached", timeout: WAIT_MS });
      await cid.locator("[data-screen-of]").waitFor({ state: "detached", timeout: WAIT_MS });
      await waitForPlayingVideos(bob, 2);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest(
  "Switching cameras mid-call keeps the call and the other side keeps seeing video",
  async () => {
    const e2e = await startE2E();
    try {
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "e2e-devices", name: "Ann" });
      const bob = await e2e.newPage();
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "e2e-devices", name: "Bob" });
      await waitForPlayingVideos(bob, 1);
      const label = () =>
        ann.locator("[data-local] video").evaluate((v: HTMLVideoElement) =>
          (v.srcObject as MediaStream).getVideoTracks()[0]?.label
        );
      const before = await label();

      await ann.getByRole("button", { name: "Devices" }).click();
      const camera = ann.getByLabel("Camera", { exact: true }).and(ann.locator("select"));
      const options = await camera.locator("option").evaluateAll((os) =>
        os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== "")
      );
      assert.ok(options.length >= 2, `two fake cameras, got ${options.length}`);
      const other = await camera.locator("option").evaluateAll(
        (os, current) =>
          os.find((o) => o.textContent !== current && (o as HTMLOptionElement).value !== "")!
            .getAttribute("value")!,
        before,
      );
      await camera.selectOption(other);
      await ann.waitForFunction(
        (old) =>
          (document.querySelector<HTMLVideoElement>("[data-local] video")?.srcObject as MediaStream)
            ?.getVideoTracks()[0]?.label !== old,
        before,
        { timeout: WAIT_MS },
      );
      assert.notEqual(await label(), before);
      await waitForPlayingVideos(bob, 1);
      assert.equal(await bob.locator("[data-peer-id]").count(), 1, "no new tile, no dropped call");
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest("Joining with camera and microphone off, then turning them on in the call", async () => {
  const e2e = await startE2E();
  try {
    const ann = await e2e.newPage();
    await ann.goto(`${e2e.baseUrl}/r/e2e-late-media`);
    // The preview is up: the person sees themselves, then turns both off.
    await ann.locator(".preview video:not(.video-hidden)").waitFor({ timeout: WAIT_MS });
    await ann.getByRole("button", { name: "Camera" }).click();
    await ann.getByRole("button", { name: "Microphone" }).click();
    assert.equal(
      await ann.getByRole("button", { name: "Camera" }).getAttribute("aria-pressed"),
      "false",
    );
    await ann.getByLabel("Name").fill("Ann");
    await ann.getByRole("button", { name: "Join" }).click();
    await ann.locator("[data-local]").waitFor({ timeout: WAIT_MS });

    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "e2e-late-media", name: "Bob" });
    await waitForPlayingVideos(ann, 1);
    await bob.locator("[data-peer-id] .avatar").waitFor({ timeout: WAIT_MS });
    await bob.locator('[data-peer-id] [aria-label="muted"]').waitFor({ timeout: WAIT_MS });

    await ann.getByRole("button", { name: "Camera" }).click();
    await ann.getByRole("button", { name: "Microphone" }).click();
    await waitForPlayingVideos(bob, 1);
    await bob.locator('[data-peer-id] [aria-label="muted"]').waitFor({
      state: "detached",
      timeout: WAIT_MS,
    });
    // Ann's new microphone reaches Bob in the same element as her video
    // (the mute badge can clear before the renegotiation that adds it).
    await bob.waitForFunction(
      () => {
        const video = document.querySelector<HTMLVideoElement>("[data-peer-id] video");
        const stream = video?.srcObject as MediaStream | null;
        return stream?.getAudioTracks().length === 1 && stream.getVideoTracks().length === 1;
      },
      null,
      { timeout: WAIT_MS },
    );
    assert.equal(await bob.locator("[data-peer-id] video").count(), 1);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});

e2eTest("The quality indicator reports the candidate type in use", async () => {
  const e2e = await startE2E();
  try {
    const ann = await e2e.newPage();
    await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "e2e-quality", name: "Ann" });
    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "e2e-quality", name: "Bob" });
    await waitForPlayingVideos(ann, 1);
    await ann.getByRole("button", { name: /^Connection to Bob: (good|fair|poor)$/ }).waitFor({
      timeout: WAIT_MS,
    });
    await ann.getByRole("button", { name: /^Connection to Bob/ }).click();
    const details = ann.locator(".quality-details");
    await details.waitFor({ timeout: WAIT_MS });
    // Loopback with no STUN/TURN: a direct host-to-host route.
    assert.equal(await details.getAttribute("data-candidate-type"), "host");
    assert.match(await details.textContent() ?? "", /direct \(same network\)/);
    assert.match(await details.textContent() ?? "", /\d+ ms/);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});

e2eTest("Keyboard shortcuts mute and raise a hand, and the others see it", async () => {
  const e2e = await startE2E();
  try {
    const ann = await e2e.newPage();
    await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "e2e-keys", name: "Ann" });
    const bob = await e2e.newPage();
    await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "e2e-keys", name: "Bob" });
    await waitForPlayingVideos(bob, 1);

    await ann.locator("body").press("m");
    await ann.locator("body").press("h");
    assert.equal(
      await ann.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed"),
      "false",
    );
    await bob.locator('[data-peer-id] [aria-label="muted"]').waitFor({ timeout: WAIT_MS });
    await bob.locator('[data-peer-id] [aria-label="hand raised"]').waitFor({ timeout: WAIT_MS });
    await bob.getByRole("button", { name: "People" }).click();
    const annRow = bob.getByRole("dialog", { name: "People" }).locator("li", { hasText: "Ann" });
    await annRow.locator('[aria-label="hand raised"]').waitFor({ timeout: WAIT_MS });

    // Typing in the chat never triggers shortcuts.
    await ann.getByLabel("Message").fill("my mic");
    assert.equal(
      await ann.getByRole("button", { name: "Microphone" }).getAttribute("aria-pressed"),
      "false",
    );
    await ann.getByLabel("Message").blur();
    await ann.locator("body").press("?");
    await ann.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor({ timeout: WAIT_MS });
    await ann.keyboard.press("Escape");
    await ann.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor({
      state: "detached",
      timeout: WAIT_MS,
    });
    await ann.locator("body").press("Shift+L");
    await ann.getByRole("button", { name: "Join" }).waitFor({ timeout: WAIT_MS });
    await waitForRemoteCount(bob, 0);
    assert.deepEqual(e2e.errors, []);
  } finally {
    await e2e.close();
  }
});
