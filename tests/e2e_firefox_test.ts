/**
 * Firefox ESR and Chromium in one room: both join orders (so Firefox is
 * the polite answerer in some pairs and the impolite offerer in others),
 * glare from both sides, chat both ways, media toggles and a screen share
 * from Firefox, Leave, a signaling cut on the Firefox page, and room
 * authority across the two (a Firefox host admitting, a Firefox knock).
 */

import assert from "node:assert/strict";
import { e2eTest, installContinuityWatch, readContinuity, startTcpProxy } from "./_browser.ts";
import {
  clickButton,
  fillField,
  joinAs,
  namesSeen,
  type Person,
  pollPage,
  startMixedCall,
  waitForVideos,
} from "./_firefox.ts";

/** Sends a chat message and waits until each of `readers` shows it from `sender`. */
async function chat(sender: Person, text: string, readers: Person[]) {
  await fillField(sender, "Message", text);
  await clickButton(sender, "Send");
  for (const reader of readers) {
    await pollPage(
      reader,
      ([line, from]) =>
        [...document.querySelectorAll(".message")].some((m) =>
          m.querySelector(".text")?.textContent === line &&
          m.querySelector(".sender")?.textContent === from
        ),
      [text, sender.name] as const,
      { what: `never showed "${text}" from ${sender.name}` },
    );
  }
}

/** Waits until `viewer` shows `name`'s tile with (or without) a badge. */
async function waitForBadge(viewer: Person, name: string, badge: string, shown: boolean) {
  await pollPage(
    viewer,
    ([who, label, want]) => {
      const tile = document.querySelector(`[data-peer-id][aria-label="${who}"]`);
      return tile !== null && (tile.querySelector(`[aria-label="${label}"]`) !== null) === want;
    },
    [name, badge, shown] as const,
    {
      what: `${name}'s tile ${shown ? "never showed" : "kept"} "${badge}"`,
    },
  );
}

e2eTest(
  "Firefox first, then two Chromium pages: everyone sees everyone, chat both ways",
  async () => {
    const call = await startMixedCall();
    try {
      const fox = await call.firefox("Fox");
      await joinAs(fox, call.baseUrl, "mixed-first");
      // Fox is the polite answerer to both newcomers.
      const ann = await call.chromium("Ann");
      await joinAs(ann, call.baseUrl, "mixed-first");
      const bob = await call.chromium("Bob");
      await joinAs(bob, call.baseUrl, "mixed-first");
      for (const person of [fox, ann, bob]) await waitForVideos(person, 2);
      assert.deepEqual(await namesSeen(fox), ["Ann", "Bob"]);
      assert.deepEqual(await namesSeen(ann), ["Bob", "Fox"]);

      await chat(fox, "hello from Firefox", [ann, bob]);
      await chat(ann, "hello from Chromium", [fox]);
      assert.deepEqual(call.errors, []);
    } finally {
      await call.close();
    }
  },
);

e2eTest(
  "Firefox last: mute, camera off and on, a screen share and Leave reach the Chromium pages",
  async () => {
    const call = await startMixedCall();
    try {
      const ann = await call.chromium("Ann");
      await joinAs(ann, call.baseUrl, "mixed-last");
      const bob = await call.chromium("Bob");
      await joinAs(bob, call.baseUrl, "mixed-last");
      // Fox is the impolite offerer to both.
      const fox = await call.firefox("Fox");
      await joinAs(fox, call.baseUrl, "mixed-last");
      for (const person of [fox, ann, bob]) await waitForVideos(person, 2);

      await clickButton(fox, "Microphone");
      for (const viewer of [ann, bob]) await waitForBadge(viewer, "Fox", "muted", true);
      await clickButton(fox, "Microphone");
      for (const viewer of [ann, bob]) await waitForBadge(viewer, "Fox", "muted", false);

      await clickButton(fox, "Camera");
      for (const viewer of [ann, bob]) await waitForBadge(viewer, "Fox", "camera off", true);
      await clickButton(fox, "Camera");
      for (const viewer of [ann, bob]) {
        await waitForBadge(viewer, "Fox", "camera off", false);
        await waitForVideos(viewer, 2);
      }

      await clickButton(fox, "Share screen");
      for (const viewer of [ann, bob]) {
        await waitForVideos(viewer, 1, { tiles: "[data-screen-of]" });
      }
      await clickButton(fox, "Share screen");
      for (const viewer of [ann, bob]) {
        await pollPage(
          viewer,
          () => document.querySelector("[data-screen-of]") === null,
          undefined,
          {
            what: "kept Fox's screen tile after the share ended",
          },
        );
        await waitForVideos(viewer, 2);
      }

      await clickButton(fox, "Leave");
      await pollPage(fox, () => document.querySelector("[data-local]") === null, undefined, {
        what: "stayed in the call after Leave",
      });
      for (const viewer of [ann, bob]) {
        await pollPage(
          viewer,
          () => document.querySelectorAll("[data-peer-id]").length === 1,
          undefined,
          { what: "kept Fox's tile after Fox left" },
        );
      }
      assert.deepEqual(await namesSeen(ann), ["Bob"]);
      assert.deepEqual(call.errors, []);
    } finally {
      await call.close();
    }
  },
);

e2eTest(
  "Firefox between two Chromium pages: everyone shares a screen at once and glare resolves both ways",
  async () => {
    const call = await startMixedCall();
    try {
      const ann = await call.chromium("Ann");
      await joinAs(ann, call.baseUrl, "mixed-glare");
      // Fox joins after Ann (impolite towards her) and before Bob (polite towards him).
      const fox = await call.firefox("Fox");
      await joinAs(fox, call.baseUrl, "mixed-glare");
      const bob = await call.chromium("Bob");
      await joinAs(bob, call.baseUrl, "mixed-glare");
      const people = [ann, fox, bob];
      for (const person of people) await waitForVideos(person, 2);

      // Three offers per pair at the same moment: both sides renegotiate.
      await Promise.all(people.map((person) => clickButton(person, "Share screen")));
      for (const person of people) {
        await waitForVideos(person, 2, { tiles: "[data-screen-of]:not([data-screen-of=self])" });
        await waitForVideos(person, 2);
      }
      await chat(bob, "after the glare", [ann, fox]);
      assert.deepEqual(call.errors, []);
    } finally {
      await call.close();
    }
  },
);

e2eTest("A signaling cut on the Firefox page resumes without touching anyone's media", async () => {
  const call = await startMixedCall();
  const proxy = startTcpProxy(call.server.port);
  try {
    const ann = await call.chromium("Ann");
    await joinAs(ann, call.baseUrl, "mixed-cut");
    // Only Fox reaches the server through the proxy that gets cut.
    const fox = await call.firefox("Fox");
    await joinAs(fox, `http://127.0.0.1:${proxy.port}`, "mixed-cut");
    const bob = await call.chromium("Bob");
    await joinAs(bob, call.baseUrl, "mixed-cut");
    const people = [ann, fox, bob];
    for (const person of people) await waitForVideos(person, 2);
    const idsOf = (person: Person) =>
      person.run(
        () =>
          [...document.querySelectorAll("[data-peer-id]")].map((t) =>
            t.getAttribute("data-peer-id")
          ).sort(),
        undefined,
      );
    const before = await Promise.all(people.map(idsOf));
    for (const person of people) await person.run(installContinuityWatch, 1500);

    proxy.cut();
    await pollPage(
      fox,
      () => document.querySelector('[data-link-status="reconnecting"]') !== null,
      undefined,
      { what: "never showed it was reconnecting" },
    );
    await pollPage(
      fox,
      () => document.querySelector('[data-link-status="reconnecting"]') === null,
      undefined,
      { what: "never reconnected" },
    );
    assert.equal(call.server.hub.metrics.resumes, 1, "Fox took its identity back");
    assert.deepEqual(await Promise.all(people.map(idsOf)), before, "same peer ids, same tiles");
    for (const person of people) await waitForVideos(person, 2);
    await chat(fox, "back on signaling", [ann, bob]);
    for (const person of people) {
      const record = await person.run(readContinuity, undefined);
      assert.deepEqual(record.removedTiles, [], `${person.name}: no tile disappeared`);
      assert.deepEqual(
        record.stalls,
        [],
        `${person.name}: no video went back or stood still; events:\n${record.events.join("\n")}`,
      );
    }
    assert.deepEqual(call.errors, []);
  } finally {
    proxy.close();
    await call.close();
  }
});

e2eTest(
  "A Firefox host admits a Chromium knock, and a Firefox knock is admitted by Chromium",
  async () => {
    const call = await startMixedCall();
    try {
      const fox = await call.firefox("Fox");
      await joinAs(fox, call.baseUrl, "mixed-knock");
      await pollPage(
        fox,
        () => document.querySelector("[data-local] .host-badge") !== null,
        undefined,
        {
          what: "is not shown as host",
        },
      );
      await clickButton(fox, "Lock room");
      await pollPage(
        fox,
        () =>
          document.querySelector('button[aria-label="Lock room"][aria-pressed="true"]') !== null,
        undefined,
        { what: "did not lock the room" },
      );

      // Chromium knocks; the Firefox host admits.
      const ann = await call.chromium("Ann");
      await ann.goto(`${call.baseUrl}/r/mixed-knock`);
      await fillField(ann, "Name", "Ann");
      // The door says the room is locked before Join: "Ask to join" at once.
      await clickButton(ann, "Ask to join");
      await pollPage(fox, () => document.querySelector("[data-knock]") !== null, undefined, {
        what: "never saw Ann's request",
      });
      await clickButton(fox, "Admit");
      await waitForVideos(ann, 1);
      await waitForVideos(fox, 1);

      // Ann becomes host too; Fox leaves; a Firefox knock reaches Ann.
      await clickButton(fox, "Actions for Ann");
      await clickButton(fox, "Make host");
      await pollPage(
        ann,
        () => document.querySelector("[data-local] .host-badge") !== null,
        undefined,
        {
          what: "was not made host",
        },
      );
      const kit = await call.firefox("Kit");
      await kit.goto(`${call.baseUrl}/r/mixed-knock`);
      await fillField(kit, "Name", "Kit");
      // The door says the room is locked before Join: "Ask to join" at once.
      await clickButton(kit, "Ask to join");
      await pollPage(ann, () => document.querySelector("[data-knock]") !== null, undefined, {
        what: "never saw Kit's request",
      });
      await clickButton(ann, "Admit");
      await waitForVideos(kit, 2);
      assert.deepEqual(await namesSeen(kit), ["Ann", "Fox"]);
      assert.deepEqual(call.errors, []);
    } finally {
      await call.close();
    }
  },
);
