/**
 * Regenerates the README's screenshots (docs/features.png, docs/phone.png,
 * docs/knock.png)
 * with headless Chromium and fake media: `deno task screenshots`.
 *
 * @module
 */

import { joinRoom, startE2E, waitForPlayingVideos } from "../tests/_browser.ts";
const e2e = await startE2E();
const ann = await e2e.newPage();
await joinRoom(ann, { baseUrl: e2e.baseUrl, room: "design-review", name: "Ann Lee" });
const bob = await e2e.newPage();
await joinRoom(bob, { baseUrl: e2e.baseUrl, room: "design-review", name: "Bob Stone" });
const cid = await e2e.newPage();
await joinRoom(cid, { baseUrl: e2e.baseUrl, room: "design-review", name: "Cid" });
await waitForPlayingVideos(ann, 2);
await bob.getByRole("button", { name: "Share screen" }).click();
await cid.getByRole("button", { name: "Raise hand" }).click();
await cid.getByRole("button", { name: "Microphone" }).click();
await bob.getByLabel("Message").fill("Here is the new layout — thoughts?");
await bob.getByLabel("Message").press("Enter");
await ann.getByRole("figure", { name: "Bob Stone's screen" }).waitFor();
await ann.waitForTimeout(2500);
await ann.getByRole("button", { name: /^Connection to Bob/ }).click();
await ann.getByRole("button", { name: "People" }).click();
await ann.waitForTimeout(500);
await ann.screenshot({ path: "docs/features.png" });
const phone = await e2e.browser.newContext({
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
});
const p = await phone.newPage();
await joinRoom(p, { baseUrl: e2e.baseUrl, room: "design-review", name: "Dee" });
await waitForPlayingVideos(p, 3);
await p.waitForFunction(() =>
  (document.querySelector<HTMLVideoElement>("[data-screen-of] video")?.videoWidth ?? 0) > 0
);
await p.screenshot({ path: "docs/phone.png" });
await phone.close();

// A host's view of someone asking to join a locked room.
await ann.keyboard.press("Escape");
await ann.getByRole("button", { name: "Lock room" }).click();
const eve = await e2e.newPage();
await eve.goto(`${e2e.baseUrl}/r/design-review`);
await eve.getByLabel("Name").fill("Eve Park");
await eve.getByRole("button", { name: "Join" }).click();
await eve.getByRole("button", { name: "Ask to join" }).click();
await ann.getByRole("region", { name: "Requests to join" }).getByText("Eve Park").waitFor();
await ann.waitForTimeout(500);
await ann.screenshot({ path: "docs/knock.png" });
if (e2e.errors.length > 0) console.error(e2e.errors);
await e2e.close();
