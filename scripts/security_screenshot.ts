/**
 * Regenerates the README's security code screenshot (docs/security-code.png)
 * with headless Chromium and fake media: `deno task screenshots:security`.
 * Ann has verified Bob Stone; the dialog shows their code.
 *
 * @module
 */

import { joinRoom, startE2E, waitForPlayingVideos } from "../tests/_browser.ts";

const e2e = await startE2E();
try {
  const ann = await e2e.newPage();
  await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "design-review", name: "Ann Lee" });
  const bob = await e2e.newPage();
  await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "design-review", name: "Bob Stone" });
  const cid = await e2e.newPage();
  await joinRoom(cid, { baseUrl: e2e.baseUrl, room: "design-review", name: "Cid" });
  await waitForPlayingVideos(ann, 2);
  await ann.getByRole("button", { name: "Actions for Bob Stone" }).click();
  await ann.getByRole("button", { name: "Security code", exact: true }).click();
  const dialog = ann.getByRole("dialog", { name: "Bob Stone" });
  await dialog.locator("[data-security-code]").waitFor();
  await dialog.getByRole("button", { name: "Mark as verified" }).click();
  await ann.locator("[data-peer-id] .security-badge.verified").waitFor();
  await ann.waitForTimeout(1500);
  await ann.screenshot({ path: "docs/security-code.png" });
  if (e2e.errors.length > 0) console.error(e2e.errors);
} finally {
  await e2e.close();
}
