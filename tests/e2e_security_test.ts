/**
 * Security codes end to end: the same code on both sides of a pair in
 * Chromium and in a Chromium–Firefox pair, different codes for different
 * pairs, the code and the verification kept across a reload and rejoin,
 * and "Security code changed" once the verified person's certificate is
 * replaced. The man in the middle has its own file
 * (`e2e_security_mitm_test.ts`).
 */

import assert from "node:assert/strict";
import { e2eTest, joinRoom, pressJoin, startE2E, WAIT_MS } from "./_browser.ts";
import { chromiumPerson, clickButton, joinAs, pollPage, startMixedCall } from "./_firefox.ts";
import {
  closeSecurityCode,
  codeByHand,
  codeFor,
  codeShown,
  detailsShown,
  openSecurityCode,
  waitForConnectedTile,
  waitForSecurityBadge,
} from "./_security.ts";

/** How often to run the pair test in a row (SECURITY_RUNS, default 1). */
const RUNS = Number(Deno.env.get("SECURITY_RUNS") ?? "1");

e2eTest(
  "Security codes: both sides of a pair show the same code, different pairs differ",
  async () => {
    for (let run = 0; run < RUNS; run++) {
      const e2e = await startE2E();
      try {
        const room = `e2e-codes-${run}`;
        const [ann, bob, cid] = await Promise.all(["Ann", "Bob", "Cid"].map(async (name) => {
          return chromiumPerson(name, await e2e.newPage());
        }));
        for (const person of [ann, bob, cid]) await joinAs(person, e2e.baseUrl, room);
        const annBob = await codeFor(ann, "Bob");
        assert.match(annBob, /^[0-9]{15}$/);
        assert.equal(await codeFor(bob, "Ann"), annBob);
        const annCid = await codeFor(ann, "Cid");
        assert.equal(await codeFor(cid, "Ann"), annCid);
        const bobCid = await codeFor(bob, "Cid");
        assert.equal(await codeFor(cid, "Bob"), bobCid);
        assert.equal(new Set([annBob, annCid, bobCid]).size, 3, "three pairs, three codes");
        console.log(`run ${run + 1}/${RUNS}: Ann–Bob ${annBob} on both sides`);
        assert.deepEqual(e2e.errors, []);
      } finally {
        await e2e.close();
      }
    }
  },
);

e2eTest(
  "Security codes: after a reload and rejoin the pair's code is the same and a verified person stays verified",
  async () => {
    const e2e = await startE2E();
    try {
      const annPage = await e2e.newPage();
      const bobPage = await e2e.newPage();
      const ann = chromiumPerson("Ann", annPage);
      const bob = chromiumPerson("Bob", bobPage);
      await joinRoom(annPage, { baseUrl: e2e.baseUrl, room: "e2e-reload", name: "Ann" });
      await joinRoom(bobPage, { baseUrl: e2e.baseUrl, room: "e2e-reload", name: "Bob" });

      await openSecurityCode(ann, "Bob");
      const before = await codeShown(ann, "Bob");
      await clickButton(ann, "Mark as verified");
      // The dialog now offers the way back.
      await clickButton(ann, "Remove verification");
      await clickButton(ann, "Mark as verified");
      await closeSecurityCode(ann, "Bob");
      await waitForSecurityBadge(ann, "Bob", "Verified");
      assert.equal(await codeFor(bob, "Ann"), before);

      await bobPage.reload();
      await pressJoin(bobPage, { baseUrl: e2e.baseUrl, room: "e2e-reload", name: "Bob" });
      await bobPage.locator("[data-local]").waitFor({ timeout: WAIT_MS });
      await waitForConnectedTile(ann, "Bob");
      assert.equal(await codeFor(ann, "Bob"), before);
      assert.equal(await codeFor(bob, "Ann"), before);
      await waitForSecurityBadge(ann, "Bob", "Verified");
      // In People too.
      await clickButton(ann, "People");
      await pollPage(
        ann,
        () =>
          [...document.querySelectorAll(".people li")].some((row) =>
            row.textContent?.includes("Bob") &&
            row.querySelector(".security-badge")?.textContent === "Verified"
          ),
        undefined,
        { what: "Bob's row in People never said Verified" },
      );
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest(
  'Security codes: a verified person whose certificate is replaced shows "Security code changed"',
  async () => {
    const e2e = await startE2E();
    try {
      const annPage = await e2e.newPage();
      const bobPage = await e2e.newPage();
      const ann = chromiumPerson("Ann", annPage);
      const bob = chromiumPerson("Bob", bobPage);
      await joinRoom(annPage, { baseUrl: e2e.baseUrl, room: "e2e-changed", name: "Ann" });
      await joinRoom(bobPage, { baseUrl: e2e.baseUrl, room: "e2e-changed", name: "Bob" });
      await openSecurityCode(ann, "Bob");
      const before = await codeShown(ann, "Bob");
      await clickButton(ann, "Mark as verified");
      await closeSecurityCode(ann, "Bob");
      await waitForSecurityBadge(ann, "Bob", "Verified");

      // Bob's browser loses its certificate (IndexedDB cleared); his localStorage stays.
      await bobPage.goto("about:blank");
      const cdp = await bobPage.context().newCDPSession(bobPage);
      await cdp.send("Storage.clearDataForOrigin", {
        origin: e2e.baseUrl,
        storageTypes: "indexeddb",
      });
      await cdp.detach();
      await pressJoin(bobPage, { baseUrl: e2e.baseUrl, room: "e2e-changed", name: "Bob" });
      await bobPage.locator("[data-local]").waitFor({ timeout: WAIT_MS });
      await waitForConnectedTile(ann, "Bob");
      await waitForSecurityBadge(ann, "Bob", "Security code changed");
      const after = await codeFor(ann, "Bob");
      assert.notEqual(after, before);
      assert.equal(await codeFor(bob, "Ann"), after);
      await clickButton(ann, "People");
      await pollPage(
        ann,
        () =>
          [...document.querySelectorAll(".people li")].some((row) =>
            row.textContent?.includes("Bob") &&
            row.querySelector(".security-badge.changed")?.textContent === "Security code changed"
          ),
        undefined,
        { what: "Bob's row in People never said Security code changed" },
      );
      // Verified again with the new code: the warning goes.
      await clickButton(ann, "Security code for Bob");
      await codeShown(ann, "Bob");
      await clickButton(ann, "Mark as verified");
      await waitForSecurityBadge(ann, "Bob", "Verified");
      await clickButton(ann, "Remove verification");
      await waitForSecurityBadge(ann, "Bob", null);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  },
);

e2eTest("Security codes: Chromium and Firefox show the same code for their pair", async () => {
  const call = await startMixedCall();
  try {
    const fox = await call.firefox("Fox");
    const ann = await call.chromium("Ann");
    await joinAs(fox, call.baseUrl, "e2e-mixed-code");
    await joinAs(ann, call.baseUrl, "e2e-mixed-code");
    const code = await codeFor(ann, "Fox");
    assert.match(code, /^[0-9]{15}$/);
    assert.equal(await codeFor(fox, "Ann"), code);
    // Checked by hand from what each dialog shows, as docs/security.md says.
    for (const [person, other] of [[ann, "Fox"], [fox, "Ann"]] as const) {
      await openSecurityCode(person, other);
      const details = await detailsShown(person, other);
      assert.match(details[0], /^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(await codeByHand(details), code);
      await closeSecurityCode(person, other);
    }
    assert.deepEqual(call.errors, []);
  } finally {
    await call.close();
  }
});
