/** A connection's quality grade and, on demand, its numbers. */

import type { ReadonlySignal } from "@preact/signals";
import { useState } from "preact/hooks";
import { gradeQuality, type PeerQuality } from "../quality.ts";
import { Icon } from "./Icon.tsx";

const CANDIDATE_WORDS: Record<string, string> = {
  host: "direct (same network)",
  srflx: "direct (through NAT)",
  prflx: "direct (through NAT)",
  relay: "relayed (TURN)",
};

/** The signal button on a remote tile; opens the route, round trip, loss and bitrates. */
export function QualityIndicator({ qualities, id, name }: {
  qualities: ReadonlySignal<ReadonlyMap<string, PeerQuality>>;
  id: string;
  name: string;
}) {
  const [open, setOpen] = useState(false);
  // Read here, so a new sample re-renders this indicator only.
  const quality = qualities.value.get(id) ?? null;
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
          data-remote-candidate-type={quality?.remoteCandidateType ?? ""}
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
