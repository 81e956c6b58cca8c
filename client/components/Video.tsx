/** A <video> bound to a MediaStream (one element carries audio and video). */

import { useLayoutEffect, useRef } from "preact/hooks";

interface VideoProps {
  stream: MediaStream | null;
  /** Our own preview: muted so we do not hear ourselves, and mirrored. */
  local?: boolean;
  hidden?: boolean;
}

/** Plays `stream`; keeps playing audio even while visually hidden. */
export function Video({ stream, local = false, hidden = false }: VideoProps) {
  const ref = useRef<HTMLVideoElement>(null);
  useLayoutEffect(() => {
    const video = ref.current;
    if (video === null || video.srcObject === stream) return;
    video.srcObject = stream;
    if (stream !== null) {
      video.play().catch(() => {/* autoplay retried on click */});
    }
  }, [stream]);
  return (
    <video
      ref={ref}
      class={`video${local ? " mirror" : ""}${hidden ? " video-hidden" : ""}`}
      autoplay
      playsInline
      muted={local}
    />
  );
}
