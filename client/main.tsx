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
import type { TextStorage } from "./_stored_records.ts";
import { CallController } from "./call.ts";
import { CertificateStore, IndexedDbStorage } from "./certificate_store.ts";
import { App } from "./components/App.tsx";
import { signalingUrl } from "./signaling.ts";
import { PinnedCodes } from "./pinned_codes.ts";
import { CallModel } from "./store.ts";
import { VerifiedStore } from "./verified_store.ts";

const NAME_KEY = "mesh-rooms:name";
const BROWSER_KEY = "mesh-rooms:browser";
const VERIFY_ID_KEY = "mesh-rooms:verify-id";

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
  return lastingId(BROWSER_KEY);
}

/**
 * The id peers remember our verified security code under. Not the one
 * above: that one is told only to the server, and a peer who learnt it
 * could join with it and be removed in our place.
 */
function verifyId(): string {
  return lastingId(VERIFY_ID_KEY);
}

function lastingId(key: string): string {
  try {
    const saved = localStorage.getItem(key);
    if (saved !== null && /^[A-Za-z0-9_-]{1,64}$/.test(saved)) return saved;
    const fresh = crypto.randomUUID().replaceAll("-", "");
    localStorage.setItem(key, fresh);
    return fresh;
  } catch {
    return crypto.randomUUID().replaceAll("-", "");
  }
}

/** `localStorage`, or a map for this page where the browser refuses it (a sandboxed frame). */
function textStorage(): TextStorage {
  let storage: TextStorage | null = null;
  try {
    storage = localStorage;
  } catch {
    // A sandboxed frame: reading the property throws.
  }
  if (storage !== null) return storage;
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
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
  security: {
    certificate: () => new CertificateStore({ storage: new IndexedDbStorage() }).certificate(),
    pins: new PinnedCodes(textStorage()),
    verified: new VerifiedStore(textStorage()),
    browserId: verifyId(),
  },
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
