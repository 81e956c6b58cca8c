/**
 * Our screen share: the browser's picker, the extra track everyone gets
 * (negotiated by perfect negotiation) and its end — ours, or the browser's
 * own "Stop sharing" bar. `LocalMedia` holds one, beside the camera and
 * microphone.
 *
 * @module
 */

import type { LocalMediaOptions } from "./local_media.ts";
import type { LocalTrack } from "./peer.ts";
import type { CallStore } from "./store.ts";
import { NOTICE_TEXT } from "./wording.ts";

/** The browser API and what to tell the call when the share starts or ends. */
export type ScreenShareOptions = Pick<
  LocalMediaOptions,
  "getDisplayMedia" | "setTrack" | "announceState"
>;

/** One tab's screen share; the store shows it while it lasts. */
export class ScreenShare {
  #store: CallStore;
  #options: ScreenShareOptions;

  constructor(store: CallStore, options: ScreenShareOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Starts sharing the screen (the browser asks which one) or stops. The
   * share goes to everyone as an extra track, negotiated by perfect
   * negotiation; the browser's own "Stop sharing" bar ends it too.
   */
  async toggle(): Promise<void> {
    const store = this.#store;
    if (store.screenStream.value !== null) return this.stop();
    if (this.#options.getDisplayMedia === undefined) {
      store.notify(NOTICE_TEXT.noScreenShare);
      return;
    }
    let stream: MediaStream;
    try {
      stream = await this.#options.getDisplayMedia({
        video: { frameRate: { ideal: 15 } },
        audio: false,
      });
    } catch (error) {
      // Cancelling the picker is a choice, not an error worth a message.
      if ((error as { name?: string })?.name !== "NotAllowedError") {
        store.notify(NOTICE_TEXT.screenShareFailed);
      }
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (track === undefined) return;
    track.contentHint = "detail";
    track.onended = () => void this.stop();
    store.setScreenShare(stream);
    this.#options.announceState();
    await this.#options.setTrack("screen", { kind: "screen", track, stream });
  }

  /** Ends the share, if any (the call is left, or the person stops it). */
  async stop(): Promise<void> {
    const store = this.#store;
    const stream = store.screenStream.value;
    if (stream === null) return;
    store.setScreenShare(null);
    for (const track of stream.getTracks()) {
      track.onended = null;
      track.stop();
    }
    this.#options.announceState();
    await this.#options.setTrack("screen", null);
  }

  /** The shared screen's track, for a newly arrived peer; `null` while not sharing. */
  track(): LocalTrack | null {
    const stream = this.#store.screenStream.value;
    const track = stream?.getVideoTracks()[0];
    return stream && track ? { kind: "screen", track, stream } : null;
  }
}
