/**
 * A <video> bound to a MediaStream (one element carries audio and video),
 * and our own camera's view, one element for the whole page.
 */

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

/**
 * The one element that shows our own camera, created once and moved from
 * the pre-join screen into the room. A new element for the same camera
 * stalled every encoder fed by it for up to 2 s in Chromium (measured by
 * the client bench: the people already in the call saw a newcomer's video
 * only 2 s after their connection was up); moving one element keeps it
 * playing.
 */
let selfView: HTMLVideoElement | undefined;

/** Our own camera, mirrored and muted, in a box that lays out as the element itself. */
export function SelfView(
  { stream, hidden = false }: { stream: MediaStream | null; hidden?: boolean },
) {
  const box = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const video = selfView ??= createSelfView();
    box.current!.append(video);
    const here = box.current;
    // Moved on by the next screen within the same commit: leave it there.
    return () => {
      if (video.parentElement === here) video.remove();
    };
  }, []);
  useLayoutEffect(() => {
    const video = selfView!;
    video.classList.toggle("video-hidden", hidden);
    if (video.srcObject === stream) return;
    video.srcObject = stream;
    if (stream !== null) video.play().catch(() => {/* muted: autoplay is allowed */});
  }, [stream, hidden]);
  return <div ref={box} class="self-view" />;
}

function createSelfView(): HTMLVideoElement {
  const video = document.createElement("video");
  video.className = "video mirror";
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true;
  return video;
}
