/** Participant tiles: video (with audio), name, state badges, quality. */

import { useState } from "preact/hooks";
import { gradeQuality, type PeerQuality } from "../quality.ts";
import type { Participant } from "../store.ts";
import { Badge } from "./Badge.tsx";
import { Icon } from "./Icon.tsx";
import { Video } from "./Video.tsx";

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("");
}

const CANDIDATE_WORDS: Record<string, string> = {
  host: "direct (same network)",
  srflx: "direct (through NAT)",
  prflx: "direct (through NAT)",
  relay: "relayed (TURN)",
};

function QualityIndicator(
  { quality, name }: { quality: PeerQuality | null; name: string },
) {
  const [open, setOpen] = useState(false);
  const grade = gradeQuality(quality);
  const label = grade === "unknown" ? "measuring" : grade;
  return (
    <div class="quality">
      <button
        type="button"
        class={`quality-button q-${grade}`}
        aria-label={`Connection to ${name}: ${label}`}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <Icon name="signal" />
      </button>
      {open && (
        <dl
          class="quality-details"
          data-candidate-type={quality?.candidateType ?? ""}
        >
          <dt>Route</dt>
          <dd>
            {quality?.candidateType ? CANDIDATE_WORDS[quality.candidateType] : "—"}
            {quality?.candidateType && <span class="mono">{quality.candidateType}</span>}
          </dd>
          <dt>Round trip</dt>
          <dd>{quality?.rttMs != null ? `${quality.rttMs} ms` : "—"}</dd>
          <dt>Packet loss</dt>
          <dd>
            {quality?.lossPercent != null ? `${quality.lossPercent} %` : "—"}
          </dd>
          <dt>Receiving</dt>
          <dd>{quality?.inKbps != null ? `${quality.inKbps} kbit/s` : "—"}</dd>
          <dt>Sending</dt>
          <dd>
            {quality?.outKbps != null ? `${quality.outKbps} kbit/s` : "—"}
          </dd>
        </dl>
      )}
    </div>
  );
}

interface RemoteTileProps {
  participant: Participant;
  speaking: boolean;
  sinkId: string;
}

/** A remote participant; `data-peer-id` identifies them for tests and CSS. */
export function RemoteTile({ participant, speaking, sinkId }: RemoteTileProps) {
  const { id, name, stream, micOn, camOn, connection, handRaised, diagnosis } = participant;
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
      {!hasVideo && <div class="avatar" aria-hidden="true">{initials(name)}</div>}
      <figcaption class="caption">
        {handRaised && (
          <Badge
            class="badge hand"
            icon="hand"
            label="hand raised"
            title={`${name} raised a hand`}
          />
        )}
        <span class="name">{name}</span>
        {!micOn && <Badge icon="micOff" label="muted" title={`${name} is muted`} />}
        {!camOn && <Badge icon="camOff" label="camera off" title={`${name}'s camera is off`} />}
      </figcaption>
      <QualityIndicator quality={participant.quality} name={name} />
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

interface LocalTileProps {
  name: string;
  stream: MediaStream | null;
  micOn: boolean;
  camOn: boolean;
  handRaised: boolean;
  speaking: boolean;
}

/** Our own preview: muted, mirrored, marked `data-local`. */
export function LocalTile(
  { name, stream, micOn, camOn, handRaised, speaking }: LocalTileProps,
) {
  const hasVideo = camOn && (stream?.getVideoTracks().length ?? 0) > 0;
  return (
    <figure
      class={`tile local${speaking ? " speaking" : ""}`}
      data-local
      aria-label={`${name} (you)`}
    >
      <Video stream={stream} local hidden={!hasVideo} />
      {!hasVideo && <div class="avatar" aria-hidden="true">{initials(name)}</div>}
      <figcaption class="caption">
        {handRaised && <Badge class="badge hand" icon="hand" label="hand raised" />}
        <span class="name">{name} (you)</span>
        {!micOn && <Badge icon="micOff" label="muted" />}
      </figcaption>
    </figure>
  );
}
