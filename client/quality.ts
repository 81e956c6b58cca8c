/**
 * Connection quality and audio levels from `RTCPeerConnection.getStats()`:
 * round-trip time, packet loss, bitrate, the selected candidate type, and
 * who is speaking. Pure functions over plain stats objects, so they are
 * tested with recorded reports instead of a browser.
 *
 * @module
 */

/** ICE candidate types, from best to last resort. */
export type CandidateType = "host" | "srflx" | "prflx" | "relay";

/** What a participant's quality indicator shows. */
export interface PeerQuality {
  /** Round-trip time of the selected candidate pair, in ms. */
  rttMs: number | null;
  /** Inbound packets lost over the last interval, in percent. */
  lossPercent: number | null;
  /** Receive and send bitrates over the last interval, in kbit/s. */
  inKbps: number | null;
  outKbps: number | null;
  /** The local candidate type of the pair in use. */
  candidateType: CandidateType | null;
  /** The remote candidate type of the pair in use. */
  remoteCandidateType: CandidateType | null;
  /** Their voice level now, 0–1. */
  audioLevel: number;
}

/** Cumulative counters kept between two samples. */
export interface StatsSample {
  at: number;
  bytesIn: number;
  bytesOut: number;
  packetsLost: number;
  packetsReceived: number;
}

/** A stats entry as the browser gives it: a plain dictionary. */
export type StatsEntry = { type: string; id: string } & Record<string, unknown>;

const CANDIDATE_TYPES = new Set<string>(["host", "srflx", "prflx", "relay"]);

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function candidateType(value: unknown): CandidateType | null {
  return typeof value === "string" && CANDIDATE_TYPES.has(value) ? value as CandidateType : null;
}

/** The grade a person understands: good, fair or poor. */
export type QualityGrade = "good" | "fair" | "poor" | "unknown";

/** Grades a connection by loss and round-trip time. */
export function gradeQuality(q: PeerQuality | null): QualityGrade {
  if (q === null || (q.rttMs === null && q.lossPercent === null)) {
    return "unknown";
  }
  const loss = q.lossPercent ?? 0;
  const rtt = q.rttMs ?? 0;
  if (loss >= 8 || rtt >= 600) return "poor";
  if (loss >= 2 || rtt >= 250) return "fair";
  return "good";
}

/**
 * Reduces one stats report to a {@linkcode PeerQuality}, using `previous`
 * (the last sample) for rates. Returns the new sample to keep.
 */
export function summarizeStats(
  entries: Iterable<StatsEntry>,
  { previous, now }: { previous: StatsSample | null; now: number },
): { quality: PeerQuality; sample: StatsSample } {
  const byId = new Map<string, StatsEntry>();
  let selectedPairId: string | null = null;
  const sample: StatsSample = {
    at: now,
    bytesIn: 0,
    bytesOut: 0,
    packetsLost: 0,
    packetsReceived: 0,
  };
  let audioLevel = 0;
  for (const entry of entries) {
    byId.set(entry.id, entry);
    if (
      entry.type === "transport" &&
      typeof entry.selectedCandidatePairId === "string"
    ) {
      selectedPairId = entry.selectedCandidatePairId;
    } else if (entry.type === "inbound-rtp") {
      sample.bytesIn += num(entry.bytesReceived);
      sample.packetsLost += num(entry.packetsLost);
      sample.packetsReceived += num(entry.packetsReceived);
      if (entry.kind === "audio") {
        audioLevel = Math.max(audioLevel, num(entry.audioLevel));
      }
    } else if (entry.type === "outbound-rtp") {
      sample.bytesOut += num(entry.bytesSent);
    }
  }
  let pair = selectedPairId === null ? undefined : byId.get(selectedPairId);
  // Firefox has no transport stats: fall back to the nominated, working pair.
  pair ??= [...byId.values()].find((e) =>
    e.type === "candidate-pair" && e.nominated === true &&
    e.state === "succeeded"
  );
  const local = typeof pair?.localCandidateId === "string"
    ? byId.get(pair.localCandidateId)
    : undefined;
  const remote = typeof pair?.remoteCandidateId === "string"
    ? byId.get(pair.remoteCandidateId)
    : undefined;
  const rtt = pair?.currentRoundTripTime;
  const seconds = previous === null ? 0 : (now - previous.at) / 1000;
  const rate = (bytes: number, before: number) =>
    seconds > 0 ? Math.max(0, Math.round((bytes - before) * 8 / seconds / 1000)) : null;
  const lost = previous === null ? 0 : sample.packetsLost - previous.packetsLost;
  const received = previous === null ? 0 : sample.packetsReceived - previous.packetsReceived;
  return {
    sample,
    quality: {
      rttMs: typeof rtt === "number" ? Math.round(rtt * 1000) : null,
      lossPercent: lost + received > 0
        ? Math.round(Math.max(0, lost) / (lost + received) * 1000) / 10
        : null,
      inKbps: rate(sample.bytesIn, previous?.bytesIn ?? 0),
      outKbps: rate(sample.bytesOut, previous?.bytesOut ?? 0),
      candidateType: candidateType(local?.candidateType),
      remoteCandidateType: candidateType(remote?.candidateType),
      audioLevel,
    },
  };
}

/** Our own microphone level from the `media-source` stats entry. */
export function localAudioLevel(entries: Iterable<StatsEntry>): number {
  for (const entry of entries) {
    if (entry.type === "media-source" && entry.kind === "audio") {
      return num(entry.audioLevel);
    }
  }
  return 0;
}

/** Who is highlighted as speaking, and since when. */
export interface SpeakerState {
  id: string | null;
  since: number;
}

/** Options for {@linkcode pickActiveSpeaker}. */
export interface SpeakerOptions {
  /** Who is highlighted now (from the last call). */
  current: SpeakerState;
  /** Clock, ms. */
  now: number;
  /** Level (0–1) that counts as speech. Default 0.05. */
  threshold?: number;
  /** How long a speaker keeps the highlight after the last loud sample, ms. Default 1500. */
  holdMs?: number;
}

/**
 * Picks the loudest participant above the threshold. The current speaker
 * keeps the highlight for `holdMs` after going quiet, so it does not
 * flicker between words.
 */
export function pickActiveSpeaker(
  levels: ReadonlyMap<string, number>,
  options: SpeakerOptions,
): SpeakerState {
  const { current, now, threshold = 0.05, holdMs = 1500 } = options;
  let loudest: string | null = null;
  let max = threshold;
  for (const [id, level] of levels) {
    if (level >= max) {
      max = level;
      loudest = id;
    }
  }
  // `since` is the last time the speaker was loud: the hold counts from it.
  if (loudest !== null) return { id: loudest, since: now };
  if (
    current.id !== null && levels.has(current.id) &&
    now - current.since < holdMs
  ) return current;
  return { id: null, since: now };
}
