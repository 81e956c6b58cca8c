/**
 * Our own camera, microphone and screen: the preview, the toggles, device
 * choice and screen sharing (a {@linkcode ScreenShare}). Keeps one stream for the whole visit so the
 * other side sees one tile however tracks come and go, and tells the call
 * (through {@linkcode LocalMediaOptions}) when a track or our state changes.
 * Browser APIs are injected so all of it runs in `deno test` with fakes.
 *
 * @module
 */

import type { LocalTrack, MediaKind } from "./peer.ts";
import { ScreenShare } from "./screen_share.ts";
import type { CallStore, DeviceChoice, DeviceLists } from "./store.ts";
import { describeMediaError, KIND_LABEL } from "./wording.ts";

/** The media APIs of `navigator.mediaDevices` this module uses. */
export interface MediaApis {
  /** `navigator.mediaDevices.getUserMedia`. */
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  /** `navigator.mediaDevices.getDisplayMedia`; absent where unsupported (phones). */
  getDisplayMedia?(
    constraints: DisplayMediaStreamOptions,
  ): Promise<MediaStream>;
  /** `navigator.mediaDevices.enumerateDevices`. */
  enumerateDevices?(): Promise<MediaDeviceInfo[]>;
}

/** The media APIs and what to tell the call when our media changes. */
export interface LocalMediaOptions extends MediaApis {
  /** Sends `local` (or nothing, with `null`) as `kind` to everyone in the call. */
  setTrack(kind: MediaKind, local: LocalTrack | null): Promise<void>;
  /** Our microphone, camera, hand or screen state changed: tell everyone. */
  announceState(): void;
}

const VIDEO_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
};

/** The local camera, microphone and screen share of one tab. */
export class LocalMedia {
  #store: CallStore;
  #options: LocalMediaOptions;
  /**
   * The stream every sender is tied to, kept for the whole visit so remote
   * sides see one stream (one tile) however tracks come and go. The store
   * holds display copies of it.
   */
  #stream: MediaStream | null = null;
  /** A media request in flight, so a second click does not open a second camera. */
  #request: Promise<void> | null = null;
  #screen: ScreenShare;

  constructor(store: CallStore, options: LocalMediaOptions) {
    this.#store = store;
    this.#options = options;
    this.#screen = new ScreenShare(store, options);
  }

  /** Starts camera and microphone for the preview; failures become words. */
  startPreview(): Promise<void> {
    this.#request ??= this.#startPreview().finally(() => {
      this.#request = null;
    });
    return this.#request;
  }

  async #startPreview(): Promise<void> {
    const store = this.#store;
    if (this.#stream !== null) return;
    store.clearMediaError();
    const wanted = { audio: store.micOn.value, video: store.camOn.value };
    if (!wanted.audio && !wanted.video) return;
    try {
      const stream = await this.#options.getUserMedia({
        audio: wanted.audio ? this.#constraints("audio") : false,
        video: wanted.video ? this.#constraints("video") : false,
      });
      this.#stream = stream;
      this.#publish();
      store.setMicOn(stream.getAudioTracks().length > 0);
      store.setCamOn(stream.getVideoTracks().length > 0);
      // Join was pressed before the camera started: the peers met so far
      // got no tracks, so send them now (and say the camera is on). Before
      // joining there is nobody to send to and both calls do nothing.
      for (const local of this.tracks()) {
        if (local.kind !== "screen") await this.#options.setTrack(local.kind, local);
      }
      this.#options.announceState();
    } catch (error) {
      store.mediaFailed(describeMediaError(error));
      store.setMicOn(false);
      store.setCamOn(false);
    }
    await this.refreshDevices();
  }

  /** Stops every local track (the camera light goes off). */
  stop(): void {
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = null;
    this.#publish();
  }

  /**
   * Mutes or unmutes the microphone. A muted track keeps running (silent)
   * so unmuting is instant; with no microphone yet, one is requested.
   */
  async toggleMic(): Promise<void> {
    // A click while the preview is still starting acts on its result.
    await this.#request;
    const store = this.#store;
    const track = this.#stream?.getAudioTracks()[0];
    if (track === undefined) return this.#acquire("audio");
    if (store.phase.value === "prejoin" && track.enabled) {
      // Choosing "no microphone" before joining releases the device; the
      // call then starts without audio and adds it (renegotiating) if
      // turned on later.
      track.stop();
      this.#stream!.removeTrack(track);
      store.setMicOn(false);
      this.#publish();
      return;
    }
    track.enabled = !track.enabled;
    store.setMicOn(track.enabled);
    this.#options.announceState();
  }

  /**
   * Turns the camera off — stopping the track so the light goes off — or
   * on again with a fresh track, swapped in with `replaceTrack` (or added,
   * renegotiating, if this call never had video).
   */
  async toggleCamera(): Promise<void> {
    await this.#request;
    const stream = this.#stream;
    const current = stream?.getVideoTracks()[0];
    if (stream === null || current === undefined) return this.#acquire("video");
    current.stop();
    stream.removeTrack(current);
    this.#publish();
    this.#store.setCamOn(false);
    await this.#options.setTrack("video", null);
    this.#options.announceState();
  }

  async #acquire(kind: "audio" | "video"): Promise<void> {
    const store = this.#store;
    try {
      const fresh = await this.#options.getUserMedia({
        [kind]: this.#constraints(kind),
      });
      const track = fresh.getTracks()[0];
      const stream = this.#stream ?? fresh;
      if (stream !== fresh) stream.addTrack(track);
      this.#stream = stream;
      this.#publish();
      if (kind === "audio") store.setMicOn(true);
      else store.setCamOn(true);
      store.clearMediaError();
      await this.#options.setTrack(kind, { kind, track, stream });
      this.#options.announceState();
    } catch (error) {
      store.mediaFailed(describeMediaError(error));
    }
  }

  /** Starts sharing the screen (the browser asks which one) or stops. */
  toggleScreenShare(): Promise<void> {
    return this.#screen.toggle();
  }

  /** Ends the screen share, if any (the call is left, or the person stops it). */
  stopScreenShare(): Promise<void> {
    return this.#screen.stop();
  }

  /** Re-reads the device lists (after permission, or on `devicechange`). */
  async refreshDevices(): Promise<void> {
    if (this.#options.enumerateDevices === undefined) return;
    let infos: MediaDeviceInfo[];
    try {
      infos = await this.#options.enumerateDevices();
    } catch {
      return;
    }
    // A chosen device that was unplugged falls back to the default.
    let lost = this.#store.listDevices(deviceLists(infos));
    // The device in use disappeared without being chosen explicitly.
    for (
      const [kind, track] of [
        ["audioinput", this.#stream?.getAudioTracks()[0]],
        ["videoinput", this.#stream?.getVideoTracks()[0]],
      ] as const
    ) {
      if (track?.readyState === "ended") lost = kind;
    }
    if (lost !== null) await this.selectDevice(lost, "");
  }

  /**
   * Switches camera, microphone or speaker. Cameras and microphones are
   * swapped in with `replaceTrack`: no renegotiation, no dropped call.
   */
  async selectDevice(kind: keyof DeviceChoice, deviceId: string): Promise<void> {
    const store = this.#store;
    store.chooseDevice(kind, deviceId);
    if (kind === "audiooutput") return; // the <video> elements apply it
    const mediaKind = kind === "audioinput" ? "audio" : "video";
    const stream = this.#stream;
    const current = mediaKind === "audio"
      ? stream?.getAudioTracks()[0]
      : stream?.getVideoTracks()[0];
    if (stream === null || current === undefined) return; // used when turned on
    try {
      const fresh = await this.#options.getUserMedia({
        [mediaKind]: this.#constraints(mediaKind),
      });
      const track = fresh.getTracks()[0];
      track.enabled = current.enabled;
      current.stop();
      stream.removeTrack(current);
      stream.addTrack(track);
      this.#publish();
      store.clearMediaError();
      await this.#options.setTrack(mediaKind, { kind: mediaKind, track, stream });
    } catch (error) {
      store.mediaFailed(describeMediaError(error));
    }
  }

  /** Everything a newly arrived peer should receive, screen share included. */
  tracks(): LocalTrack[] {
    const out: LocalTrack[] = [];
    const stream = this.#stream;
    for (const track of stream?.getTracks() ?? []) {
      out.push({
        kind: track.kind === "audio" ? "audio" : "video",
        track,
        stream: stream!,
      });
    }
    const screen = this.#screen.track();
    if (screen !== null) out.push(screen);
    return out;
  }

  #constraints(kind: "audio" | "video"): MediaTrackConstraints {
    const id = this.#store.selectedDevices
      .value[kind === "audio" ? "audioinput" : "videoinput"];
    const device = id === "" ? {} : { deviceId: { exact: id } };
    return kind === "video" ? { ...VIDEO_CONSTRAINTS, ...device } : device;
  }

  /** Shows the current tracks: a new stream object so signals see a change. */
  #publish(): void {
    const stream = this.#stream;
    this.#store.showLocalStream(stream === null ? null : new MediaStream(stream.getTracks()));
  }
}

/** The devices `enumerateDevices()` lists, by kind; unnamed ones are numbered. */
function deviceLists(infos: readonly MediaDeviceInfo[]): DeviceLists {
  const lists: DeviceLists = { audioinput: [], videoinput: [], audiooutput: [] };
  for (const info of infos) {
    if (info.deviceId === "" || !(info.kind in lists)) continue;
    const list = lists[info.kind as keyof DeviceLists];
    list.push({
      id: info.deviceId,
      label: info.label || `${KIND_LABEL[info.kind]} ${list.length + 1}`,
    });
  }
  return lists;
}
