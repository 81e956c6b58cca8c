/**
 * Mesh-aware sending quality. In a mesh every participant uploads one copy
 * of their video per other participant, so the per-copy bitrate and
 * resolution must shrink as the room grows or a typical home uplink
 * (2–10 Mbit/s) saturates and everyone's video stalls.
 *
 * The policy (camera, from a 1280×720 source):
 *
 * | others | max bitrate per copy | resolution | frame rate | total upload |
 * | ------ | -------------------- | ---------- | ---------- | ------------ |
 * | 1      | 1,500 kbit/s         | 720p       | 30         | 1.5 Mbit/s   |
 * | 2      | 1,000 kbit/s         | 720p       | 30         | 2.0 Mbit/s   |
 * | 3      | 650 kbit/s           | 480p       | 30         | 2.0 Mbit/s   |
 * | 4–5    | 400 kbit/s           | 360p       | 24         | ≤ 2.0 Mbit/s |
 * | 6+     | 250 kbit/s           | 270p       | 20         | ≤ 1.8 Mbit/s |
 *
 * A screen share keeps full resolution (text must stay legible) at a low
 * frame rate, sharing a 2.5 Mbit/s budget across copies (at least
 * 300 kbit/s each).
 *
 * @module
 */

/** The encoding parameters we set on a video sender. */
export interface VideoEncoding {
  maxBitrate: number;
  scaleResolutionDownBy: number;
  maxFramerate: number;
}

/** What a video sender carries. */
export type VideoSource = "camera" | "screen";

/** The encoding for one copy of `source` when sending to `others` peers. */
export function videoEncodingFor(
  others: number,
  source: VideoSource,
): VideoEncoding {
  if (source === "screen") {
    return {
      maxBitrate: Math.max(
        300_000,
        Math.round(2_500_000 / Math.max(1, others)),
      ),
      scaleResolutionDownBy: 1,
      maxFramerate: others <= 2 ? 15 : 8,
    };
  }
  if (others <= 1) {
    return {
      maxBitrate: 1_500_000,
      scaleResolutionDownBy: 1,
      maxFramerate: 30,
    };
  }
  if (others === 2) {
    return {
      maxBitrate: 1_000_000,
      scaleResolutionDownBy: 1,
      maxFramerate: 30,
    };
  }
  if (others === 3) {
    return {
      maxBitrate: 650_000,
      scaleResolutionDownBy: 1.5,
      maxFramerate: 30,
    };
  }
  if (others <= 5) {
    return { maxBitrate: 400_000, scaleResolutionDownBy: 2, maxFramerate: 24 };
  }
  return { maxBitrate: 250_000, scaleResolutionDownBy: 2.67, maxFramerate: 20 };
}

/**
 * How long a new connection sends the camera at most at 640×360 (from a
 * 1280×720 source), ms. A video encoder starts at a low estimate of the
 * bandwidth; at 720p it drops its first frames until the estimate grows,
 * which here delayed the first frame by 100–200 ms. At a quarter of the
 * pixels the first frame goes at once, and the full resolution follows
 * once the connection has had time to measure the link (with the first
 * stats sample after it: 2–4 s after connecting).
 */
export const WARMUP_MS = 2000;

/** `encoding` for a connection still warming up: at most half the width and height. */
export function warmupEncoding(encoding: VideoEncoding): VideoEncoding {
  return { ...encoding, scaleResolutionDownBy: Math.max(encoding.scaleResolutionDownBy, 2) };
}

/** The part of RTCRtpSender that setting parameters needs. */
export interface ParameterSender {
  getParameters(): RTCRtpSendParameters;
  setParameters(parameters: RTCRtpSendParameters): Promise<void>;
}

/**
 * Applies `encoding` to the sender's first encoding, leaving everything
 * else as the browser negotiated it. No-op when nothing would change.
 */
export async function applyEncoding(
  sender: ParameterSender,
  encoding: VideoEncoding,
): Promise<boolean> {
  const parameters = sender.getParameters();
  // Before negotiation completes there are no encodings to adjust yet.
  const first = parameters.encodings?.[0];
  if (first === undefined) return false;
  if (
    first.maxBitrate === encoding.maxBitrate &&
    first.scaleResolutionDownBy === encoding.scaleResolutionDownBy &&
    first.maxFramerate === encoding.maxFramerate
  ) return false;
  first.maxBitrate = encoding.maxBitrate;
  first.scaleResolutionDownBy = encoding.scaleResolutionDownBy;
  first.maxFramerate = encoding.maxFramerate;
  await sender.setParameters(parameters);
  return true;
}
