/**
 * TURN with a real coturn: a relay-only call between two headless Chromium
 * pages on credentials the server mints (TURN REST API), and the diagnosis
 * when the server's secret does not match coturn's.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { e2eTest, joinRoom, startE2E, WAIT_MS, waitForPlayingVideos } from "./_browser.ts";
import { startCoturn } from "./_coturn.ts";

const SECRET = "coturn-test-secret-4f1c9a";

/**
 * The candidate types of the pair in use (from `getStats`), ours and the
 * other side's, as the page's quality details show them.
 */
async function routeOf(page: Page, peerName: string): Promise<string> {
  await page.getByRole("button", { name: new RegExp(`^Connection to ${peerName}`) }).click();
  await page.waitForFunction(
    () =>
      (document.querySelector(".quality-details")?.getAttribute("data-candidate-type") ?? "") !==
        "",
    null,
    { timeout: WAIT_MS },
  );
  const details = page.locator(".quality-details");
  return `${await details.getAttribute("data-candidate-type")}/${await details.getAttribute(
    "data-remote-candidate-type",
  )}`;
}

e2eTest(
  "ICE_TRANSPORT_POLICY=relay: a call through coturn on minted credentials, relayed on both ends",
  async () => {
    const coturn = await startCoturn(SECRET);
    const e2e = await startE2E({
      TURN_SECRET: SECRET,
      TURN_URLS: coturn.url,
      TURN_TTL: "600",
      ICE_TRANSPORT_POLICY: "relay",
    });
    try {
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "turn-relay", name: "Ann" });
      const bob = await e2e.newPage();
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "turn-relay", name: "Bob" });
      await waitForPlayingVideos(ann, 1);
      await waitForPlayingVideos(bob, 1);
      assert.equal(await routeOf(ann, "Bob"), "relay/relay", "Ann: relay on both ends");
      assert.equal(await routeOf(bob, "Ann"), "relay/relay", "Bob: relay on both ends");
      await ann.getByText("relayed (TURN)").waitFor({ timeout: WAIT_MS });
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
      await coturn.stop();
    }
  },
);

e2eTest(
  "A TURN_SECRET that does not match coturn's: the call fails and the tile says why",
  async () => {
    const coturn = await startCoturn(SECRET);
    const e2e = await startE2E({
      TURN_SECRET: "not-the-secret-coturn-has",
      TURN_URLS: coturn.url,
      ICE_TRANSPORT_POLICY: "relay",
    });
    try {
      const ann = await e2e.newPage();
      await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "turn-wrong", name: "Ann" });
      const bob = await e2e.newPage();
      await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "turn-wrong", name: "Bob" });
      const diagnosis = ann.locator("[data-peer-id] .diagnosis");
      await diagnosis.waitFor({ timeout: WAIT_MS });
      assert.match(await diagnosis.textContent() ?? "", /refused TURN credentials/);
      assert.equal(
        await ann.locator("[data-peer-id] video").evaluate((v) =>
          (v as HTMLVideoElement).videoWidth
        ),
        0,
        "no media without a relay",
      );
    } finally {
      await e2e.close();
      await coturn.stop();
    }
  },
);
