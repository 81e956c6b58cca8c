/** A tile's caption: the name with hand, muted and camera-off badges. */

import type { ComponentChildren } from "preact";
import { Badge } from "./Badge.tsx";
import { HostBadge } from "./HostBadge.tsx";

interface TileCaptionProps {
  /** The text shown, e.g. "Ann" or "Ann (you)". */
  text: string;
  handRaised: boolean;
  micOn: boolean;
  /** Absent on our own tile, where the preview already shows it. */
  camOn?: boolean;
  /** Whose tile, for tooltips that name them; our own tile has none. */
  who?: string;
  /** Whether they are a host of the room. */
  host?: boolean;
  /** More after the badges (a remote tile's "Verified"). */
  children?: ComponentChildren;
}

/** The `.name` line under a tile, badges before and after it. */
export function TileCaption(
  { text, handRaised, micOn, camOn = true, who, host = false, children }: TileCaptionProps,
) {
  const about = (words: string) => who === undefined ? undefined : `${who}${words}`;
  return (
    <figcaption class="caption">
      {handRaised && (
        <Badge class="badge hand" icon="hand" label="hand raised" title={about(" raised a hand")} />
      )}
      <span class="name">{text}</span>
      {host && <HostBadge />}
      {!micOn && <Badge icon="micOff" label="muted" title={about(" is muted")} />}
      {!camOn && <Badge icon="camOff" label="camera off" title={about("'s camera is off")} />}
      {children}
    </figcaption>
  );
}
