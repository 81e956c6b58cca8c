/** Our own tile in the call. */

import { type ReadonlySignal, useComputed } from "@preact/signals";
import { Avatar } from "./Avatar.tsx";
import { TileCaption } from "./TileCaption.tsx";
import { SelfView } from "./Video.tsx";

interface LocalTileProps {
  name: string;
  stream: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
  handRaised: boolean;
  /** Who is speaking (`"self"`: we are): read here, not by the room. */
  speaker: ReadonlySignal<string | null>;
  host: boolean;
}

/** Our own preview: muted, mirrored, marked `data-local`. */
export function LocalTile(
  { name, stream, micOn, camOn, handRaised, speaker, host }: LocalTileProps,
) {
  const speaking = useComputed(() => speaker.value === "self").value;
  const hasVideo = camOn && (stream?.getVideoTracks().length ?? 0) > 0;
  return (
    <figure
      class={`tile local${speaking ? " speaking" : ""}`}
      data-local
      aria-label={`${name} (you)`}
    >
      <SelfView stream={stream} hidden={!hasVideo} />
      {!hasVideo && <Avatar name={name} />}
      <TileCaption text={`${name} (you)`} handRaised={handRaised} micOn={micOn} host={host} />
    </figure>
  );
}
