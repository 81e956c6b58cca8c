/** A <video> bound to a MediaStream (one element carries audio and video). */

import { useLayoutEffect, useRef } from "preact/hooks";

interface VideoProps {
  stream: MediaStream | null;
  /** Our own preview: muted so we do not hear ourselves, and mirrored. */
  local?: boolean;
  hidden?: boolean;
  /** Letterbox instead of cropping (screens: every pixel matters). */
  contain?: boolean;
  /** Audio output device (`setSinkId`); `""` is the default speaker. */
  sinkId?: string;
}

type SinkVideo = HTMLVideoElement & {
  setSinkId?(id: string): Promise<void>;
  sinkId?: string;
};

/** Plays `stream`; keeps playing audio even while visually hidden. */
export function Video(
  { stream, local = false, hidden = false, sinkId = "", contain = false }: VideoProps,
) {
  const ref = useRef<SinkVideo>(null);
  useLayoutEffect(() => {
    const video = ref.current;
    if (video === null || video.srcObject === stream) return;
    video.srcObject = stream;
    if (stream === null) return;
    // A browser that blocks autoplay with sound (no gesture on this page
    // yet) gets another try on the person's next click or key press.
    const retry = () => void video.play().catch(() => {});
    video.play().catch(() => {
      document.addEventListener("pointerdown", retry, { once: true });
      document.addEventListener("keydown", retry, { once: true });
    });
    return () => {
      document.removeEventListener("pointerdown", retry);
      document.removeEventListener("keydown", retry);
    };
  }, [stream]);
  useLayoutEffect(() => {
    const video = ref.current;
    if (local || video?.setSinkId === undefined || video.sinkId === sinkId) {
      return;
    }
    video.setSinkId(sinkId).catch(
      () => {/* device gone: stays on the default */},
    );
  }, [sinkId, local]);
  return (
    <video
      ref={ref}
      class={`video${local && !contain ? " mirror" : ""}${hidden ? " video-hidden" : ""}${
        contain ? " contain" : ""
      }`}
      autoplay
      playsInline
      muted={local}
    />
  );
}
