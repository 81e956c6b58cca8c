/**
 * Headless Firefox ESR driven by puppeteer-core over WebDriver BiDi, and
 * page helpers that work the same in Firefox and Chromium: everything
 * goes through `evaluate`, polled from here. Under BiDi, puppeteer's ARIA
 * selectors do not exist and `waitForFunction` is blocked by the app's
 * own CSP, so conditions are checked by polling a plain `evaluate`.
 *
 * @module
 */

import type { Page as ChromiumPage } from "playwright-core";
import puppeteer, { type Browser, type Page as FirefoxPage } from "puppeteer-core";
import { describeVideos, type E2E, startE2E, videosPlaying, WAIT_MS } from "./_browser.ts";

/** Where Debian's Firefox ESR lives; FIREFOX_PATH overrides. */
export const FIREFOX_PATH = Deno.env.get("FIREFOX_PATH") ?? "/usr/bin/firefox-esr";

/** Fake camera and microphone, no permission prompts, autoplay, loopback ICE. */
export const FIREFOX_PREFS = {
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  // getDisplayMedia without a picker (Firefox then shares a fake screen).
  "media.getdisplaymedia.enabled": true,
  // Background tabs must keep their timers: several pages share one window.
  "dom.min_background_timeout_value": 4,
  "dom.timeout.enable_budget_timer_throttling": false,
};

/** Launches headless Firefox at 1280×720 (the desktop layout). */
export function launchFirefox(): Promise<Browser> {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX_PATH,
    headless: true,
    // setViewport is not supported over BiDi by ESR: size the window instead.
    args: ["--width=1280", "--height=720"],
    defaultViewport: null,
    extraPrefsFirefox: FIREFOX_PREFS,
  });
}

/** Runs a function in a page, in either browser. */
export type InPage = <R, A>(fn: (arg: A) => R | Promise<R>, arg: A) => Promise<R>;

/** One person in a cross-browser call: which browser, and a way into the page. */
export interface Person {
  name: string;
  browser: "chromium" | "firefox";
  run: InPage;
  /** Loads a URL in this person's page. */
  goto(url: string): Promise<void>;
  /** A real mouse click at page coordinates (a user gesture, unlike `element.click()`). */
  clickAt(x: number, y: number): Promise<void>;
}

/** A Chromium (Playwright) page as a {@linkcode Person}. */
export function chromiumPerson(name: string, page: ChromiumPage): Person {
  return {
    name,
    browser: "chromium",
    run: (fn, arg) => page.evaluate(fn, arg as never),
    async goto(url) {
      await page.goto(url);
    },
    clickAt: (x, y) => page.mouse.click(x, y),
  };
}

/** A Firefox (puppeteer) page as a {@linkcode Person}. */
export function firefoxPerson(name: string, page: FirefoxPage): Person {
  return {
    name,
    browser: "firefox",
    run: (fn, arg) => page.evaluate(fn as (a: unknown) => never, arg),
    async goto(url) {
      await page.goto(url);
    },
    clickAt: (x, y) => page.mouse.click(x, y),
  };
}

/**
 * Polls `fn` in the page every 200 ms until it returns a truthy value,
 * which it resolves to. On timeout, throws with `what` and the last value
 * `explain` returned (a description of what the page showed instead).
 */
export async function pollPage<R, A>(
  person: Person,
  fn: (arg: A) => R,
  arg: A,
  { what, explain, timeoutMs = WAIT_MS }: {
    what: string;
    explain?: (arg: A) => string;
    timeoutMs?: number;
  },
): Promise<R> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = await person.run(fn, arg);
    if (value) return value;
    if (performance.now() > deadline) {
      const seen = explain ? await person.run(explain, arg).catch(() => "(page gone)") : "";
      throw new Error(`${person.name} (${person.browser}): ${what}${seen ? `; saw ${seen}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Clicks, with the mouse, the enabled button whose accessible name
 * (aria-label, else text) is `name`.
 */
export async function clickButton(person: Person, name: string): Promise<void> {
  const at = await pollPage(
    person,
    (label) => {
      const button = [...document.querySelectorAll("button")].find((b) =>
        (b.getAttribute("aria-label") ?? b.textContent ?? "").trim() === label && !b.disabled
      );
      if (button === undefined) return null;
      button.scrollIntoView({ block: "nearest" });
      const box = button.getBoundingClientRect();
      return { x: box.left + box.width / 2, y: box.top + box.height / 2 };
    },
    name,
    { what: `no enabled button "${name}"` },
  );
  await person.clickAt(at!.x, at!.y);
}

/** Types `value` into the field labelled `label` (as a user's input events would). */
export async function fillField(person: Person, label: string, value: string): Promise<void> {
  await pollPage(
    person,
    ([labelText, text]) => {
      const field = [...document.querySelectorAll<HTMLInputElement>("input, textarea")].find((f) =>
        f.getAttribute("aria-label") === labelText ||
        (f.id !== "" &&
          document.querySelector(`label[for="${f.id}"]`)?.textContent?.trim() === labelText)
      );
      if (field === undefined) return false;
      field.focus();
      field.value = text;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      return true;
    },
    [label, value] as const,
    { what: `no field labelled "${label}"` },
  );
}

/** Opens the room, types the name, presses Join and waits for the call screen. */
export async function joinAs(person: Person, baseUrl: string, room: string): Promise<void> {
  await person.goto(`${baseUrl}/r/${room}`);
  await fillField(person, "Name", person.name);
  await clickButton(person, "Join");
  await pollPage(person, () => document.querySelector("[data-local]") !== null, undefined, {
    what: "never reached the call screen",
  });
}

/**
 * Waits until the page shows exactly `count` remote tiles (or `tiles`),
 * each with a video that has frames and whose `currentTime` advances.
 */
export async function waitForVideos(
  person: Person,
  count: number,
  { tiles = "[data-peer-id]" }: { tiles?: string } = {},
): Promise<void> {
  await pollPage(
    person,
    videosPlaying,
    [count, tiles] as const,
    {
      what: `expected ${count} playing videos in ${tiles}`,
      explain: describeVideos,
    },
  );
}

/** The names on the page's remote tiles, sorted. */
export function namesSeen(person: Person): Promise<string[]> {
  return person.run(
    () =>
      [...document.querySelectorAll("[data-peer-id] .name")].map((n) => n.textContent ?? "")
        .sort(),
    undefined,
  );
}

/**
 * Headless Firefox has no screen to capture (`getDisplayMedia` rejects
 * with NotFoundError even with fake media), so a Firefox page gets an
 * animated canvas as its screen, as Chromium's fake capture does. The
 * app's own code still asks for it, sends it and stops it.
 */
function fakeScreenCapture() {
  const devices = navigator.mediaDevices;
  if (devices === undefined) return; // about:blank is not a secure context
  devices.getDisplayMedia = () => {
    const canvas = document.createElement("canvas");
    canvas.width = 1280;
    canvas.height = 720;
    const g = canvas.getContext("2d")!;
    let frame = 0;
    const draw = () => {
      frame++;
      g.fillStyle = `hsl(${frame % 360} 60% 40%)`;
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.fillStyle = "white";
      g.font = "64px sans-serif";
      g.fillText(`screen ${frame}`, 100, 200);
    };
    draw();
    const stream = canvas.captureStream(15);
    const [track] = stream.getVideoTracks();
    const timer = setInterval(
      () => track.readyState === "ended" ? clearInterval(timer) : draw(),
      66,
    );
    return Promise.resolve(stream);
  };
}

/** A room's worth of browsers: Chromium and Firefox pages on one server. */
export interface MixedCall {
  /** The page origin straight to the server. */
  baseUrl: string;
  server: E2E["server"];
  /** Uncaught page errors from every page, prefixed with the person's name. */
  errors: string[];
  /** A new Chromium person (own context: own storage, own camera). */
  chromium(name: string): Promise<Person>;
  /** A new Firefox person in its own browser context. */
  firefox(name: string): Promise<Person>;
  close(): Promise<void>;
}

/** Starts the real server, headless Chromium and headless Firefox. */
export async function startMixedCall(): Promise<MixedCall> {
  const e2e = await startE2E();
  const firefox = await launchFirefox().catch(async (error) => {
    await e2e.close();
    throw error;
  });
  return {
    baseUrl: e2e.baseUrl,
    server: e2e.server,
    errors: e2e.errors,
    async chromium(name) {
      return chromiumPerson(name, await e2e.newPage());
    },
    async firefox(name) {
      const context = await firefox.createBrowserContext();
      const page = await context.newPage();
      await page.evaluateOnNewDocument(fakeScreenCapture);
      page.on("pageerror", (error) => e2e.errors.push(`${name}: ${String(error)}`));
      return firefoxPerson(name, page);
    },
    async close() {
      await firefox.close().catch(() => {});
      await e2e.close();
    },
  };
}
