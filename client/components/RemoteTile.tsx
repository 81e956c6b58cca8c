/** A remote participant's tile: video, caption, quality, and why it fails. */

import type { ComponentChildren } from "preact";
import { type ReadonlySignal, useComputed } from "@preact/signals";
import type { PeerQuality } from "../quality.ts";
import type { Participant } from "../store.ts";
import { Avatar } from "./Avatar.tsx";
import { QualityIndicator } from "./QualityIndicator.tsx";
import { SecurityBadge } from "./SecurityBadge.tsx";
import { TileCaption } from "./TileCaption.tsx";
import { Video } from "./Video.tsx";

interface RemoteTileProps {
  participant: Participant;
  /** Everyone's latest stats: read by the quality indicator alone. */
  qualities: ReadonlySignal<ReadonlyMap<string, PeerQuality>>;
  /** Who is speaking: read here, so a change re-renders only the tiles it concerns. */
  speaker: ReadonlySignal<string | null>;
  sinkId: string;
  /** Whether they are a host. */
  host: boolean;
  /** The host actions menu, when we are a host. */
  menu?: ComponentChildren;
}

/** A remote participant; `data-peer-id` identifies them for tests and CSS. */
export function RemoteTile(
  { participant, qualities, speaker, sinkId, host, menu }: RemoteTileProps,
) {
  const speaking = useComputed(() => speaker.value === participant.id).value;
  const { id, name, stream, micOn, camOn, connection, handRaised, diagnosis, security } =
    participant;
  const hasVideo = camOn && (stream?.getVideoTracks().length ?? 0) > 0;
  const connecting = connection === "new" || connection === "connecting";
  return (
    <figure
      class={`tile${speaking ? " speaking" : ""}`}
      data-peer-id={id}
      data-connection={connection}
      aria-label={name}
    >
      <Video stream={stream} hidden={!hasVideo} sinkId={sinkId} />
      {!hasVideo && <Avatar name={name} />}
      <TileCaption
        text={name}
        handRaised={handRaised}
        micOn={micOn}
        camOn={camOn}
        who={name}
        host={host}
      >
        <SecurityBadge security={security} />
      </TileCaption>
      {menu}
      <QualityIndicator qualities={qualities} id={id} name={name} />
      {diagnosis !== null
        ? (
          <div class="diagnosis" role="alert">
            <p>{diagnosis.summary}</p>
            <p class="operator">For the operator: {diagnosis.operatorHint}</p>
          </div>
        )
        : connecting
        ? <div class="status-chip">Connecting…</div>
        : connection === "disconnected" || connection === "failed"
        ? <div class="status-chip warn">Reconnecting…</div>
        : null}
    </figure>
  );
}
