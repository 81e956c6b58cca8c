/** A screen share's tile. */

import { Icon } from "./Icon.tsx";
import { Video } from "./Video.tsx";

/** A screen share: an extra tile, without `data-peer-id` (one per person). */
export function ScreenTile(
  { ownerId, label, stream, sinkId }: {
    ownerId: string;
    label: string;
    stream: MediaStream;
    sinkId?: string;
  },
) {
  return (
    <figure class="tile screen" data-screen-of={ownerId} aria-label={label}>
      <Video
        stream={stream}
        local={ownerId === "self"}
        sinkId={sinkId}
        contain
      />
      <figcaption class="caption">
        <Icon name="screen" />
        <span class="name">{label}</span>
      </figcaption>
    </figure>
  );
}
