/**
 * Browser entry point: reads the room from the URL, wires the store and
 * call controller to real browser APIs, and renders the app.
 *
 * @module
 */

import { render } from "preact";
// Installs the hooks that re-render components when a signal they read changes.
import "@preact/signals";
import { isValidChannel } from "../lib/protocol.ts";
import { AudioMeter } from "./audio_meter.ts";
import { CallController } from "./call.ts";
import { App } from "./components/App.tsx";
import { signalingUrl } from "./signaling.ts";
import { CallModel } from "./store.ts";

const NAME_KEY = "mesh-rooms:name";
const BROWSER_KEY = "mesh-rooms:browser";

function roomFromPath(path: string): string | null {
  const match = /^\/r\/([^/]+)$/.exec(path);
  const room = match === null ? null : decodeURIComponent(match[1]);
  return room !== null && isValidChannel(room) ? room : null;
}

function savedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

/**
 * This browser's lasting random id: a host's removal holds for the rest of
 * the meeting even after a reload. Private mode: one per page load.
 */
function browserId(): string {
  try {
    const saved = localStorage.getItem(BROWSER_KEY);
    if (saved !== null && /^[A-Za-z0-9_-]{1,64}$/.test(saved)) return saved;
    const fresh = crypto.randomUUID().replaceAll("-", "");
    localStorage.setItem(BROWSER_KEY, fresh);
    return fresh;
  } catch {
    return crypto.randomUUID().replaceAll("-", "");
  }
}

/**
 * The room password from an invite link: after `#`, so it never reaches
 * the server's logs or a proxy (`/r/room#password=…`).
 */
function passwordFromHash(hash: string): string {
  return new URLSearchParams(hash.slice(1)).get("password") ?? "";
}

// On a laptop the chat is always there; on a phone it starts folded away.
const wide = matchMedia("(min-width: 900px)");
const store = new CallModel({
  room: roomFromPath(location.pathname),
  name: savedName(),
  chatOpen: wide.matches,
  password: passwordFromHash(location.hash),
  canPickSpeaker: "setSinkId" in HTMLMediaElement.prototype,
  canShareScreen: typeof navigator.mediaDevices?.getDisplayMedia === "function",
});
const call = new CallController(store, {
  getUserMedia: (constraints) => navigator.mediaDevices.getUserMedia(constraints),
  getDisplayMedia: navigator.mediaDevices?.getDisplayMedia === undefined
    ? undefined
    : (constraints) => navigator.mediaDevices.getDisplayMedia(constraints),
  enumerateDevices: () => navigator.mediaDevices.enumerateDevices(),
  statsIntervalMs: 500,
  signalingUrl: signalingUrl(location),
  saveName: (name) => {
    try {
      localStorage.setItem(NAME_KEY, name);
    } catch {
      // Private mode: the name is simply not remembered.
    }
  },
  chatVisible: () => store.chatOpen.value || wide.matches,
  browserId: browserId(),
  audioMeter: typeof AudioContext === "function" ? new AudioMeter() : undefined,
});

function enterRoom(room: string) {
  history.pushState(null, "", `/r/${room}`);
  store.enterRoom(room);
}

addEventListener("popstate", () => {
  const room = roomFromPath(location.pathname);
  // Out of the call, the knock or the pre-join screen's connection.
  if (store.phase.value !== "lobby") call.leave();
  if (room === null) {
    call.media.stop();
    store.backToLobby();
  } else {
    store.enterRoom(room);
  }
});

navigator.mediaDevices?.addEventListener(
  "devicechange",
  () => void call.media.refreshDevices(),
);
// A new network (Wi-Fi to cellular, VPN up): ICE needs new candidates.
addEventListener("online", () => call.networkChanged());

// Leaving the page is a deliberate leave: the tab's socket closes with 1001.
addEventListener("pagehide", () => call.media.stop());

render(
  <App
    call={call}
    origin={location.origin}
    onEnterRoom={enterRoom}
  />,
  document.getElementById("app")!,
);
