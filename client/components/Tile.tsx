/** One participant's tile: their video (with audio) and name. */

import type { Participant } from "../store.ts";
import { Icon } from "./Icon.tsx";
import { Video } from "./Video.tsx";

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) =>
    w[0]!.toUpperCase()
  ).join("");
}

interface RemoteTileProps {
  participant: Participant;
}

/** A remote participant; `data-peer-id` identifies them for tests and CSS. */
export function RemoteTile({ participant }: RemoteTileProps) {
  const { id, name, stream, micOn, camOn, connection } = participant;
  const hasVideo = camOn && (stream?.getVideoTracks().length ?? 0) > 0;
  const connecting = connection === "new" || connection === "connecting";
  return (
    <figure class="tile" data-peer-id={id} aria-label={name}>
      <Video stream={stream} hidden={!hasVideo} />
      {!hasVideo && (
        <div class="avatar" aria-hidden="true">{initials(name)}</div>
      )}
      <figcaption class="caption">
        <span class="name">{name}</span>
        {!micOn && (
          <span class="badge" title={`${name} is muted`} aria-label="muted">
            <Icon name="micOff" />
          </span>
        )}
        {!camOn && (
          <span
            class="badge"
            title={`${name}'s camera is off`}
            aria-label="camera off"
          >
            <Icon name="camOff" />
          </span>
        )}
      </figcaption>
      {connecting && <div class="status-chip">Connecting…</div>}
      {connection === "disconnected" && (
        <div class="status-chip warn">Reconnecting…</div>
      )}
    </figure>
  );
}

interface LocalTileProps {
  name: string;
  stream: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
}

/** Our own preview: muted, mirrored, marked `data-local`. */
export function LocalTile({ name, stream, micOn, camOn }: LocalTileProps) {
  const hasVideo = camOn && (stream?.getVideoTracks().length ?? 0) > 0;
  return (
    <figure class="tile local" data-local aria-label={`${name} (you)`}>
      <Video stream={stream} local hidden={!hasVideo} />
      {!hasVideo && (
        <div class="avatar" aria-hidden="true">{initials(name)}</div>
      )}
      <figcaption class="caption">
        <span class="name">{name} (you)</span>
        {!micOn && (
          <span class="badge" aria-label="muted">
            <Icon name="micOff" />
          </span>
        )}
      </figcaption>
    </figure>
  );
}
