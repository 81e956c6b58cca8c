import assert from "node:assert/strict";
import {
  gradeQuality,
  localAudioLevel,
  pickActiveSpeaker,
  type StatsEntry,
  summarizeStats,
} from "../client/quality.ts";

/** A Chrome-shaped stats report for a host-to-host call. */
function report(bytesIn: number, bytesOut: number, lost: number, received: number): StatsEntry[] {
  return [
    { type: "transport", id: "T1", selectedCandidatePairId: "CP1" },
    {
      type: "candidate-pair",
      id: "CP1",
      localCandidateId: "L1",
      remoteCandidateId: "R1",
      currentRoundTripTime: 0.042,
      nominated: true,
      state: "succeeded",
    },
    { type: "candidate-pair", id: "CP2", localCandidateId: "L2", remoteCandidateId: "R1" },
    { type: "local-candidate", id: "L1", candidateType: "host" },
    { type: "local-candidate", id: "L2", candidateType: "relay" },
    { type: "remote-candidate", id: "R1", candidateType: "srflx" },
    {
      type: "inbound-rtp",
      id: "IA",
      kind: "audio",
      audioLevel: 0.3,
      bytesReceived: bytesIn / 2,
      packetsLost: lost,
      packetsReceived: received / 2,
    },
    {
      type: "inbound-rtp",
      id: "IV",
      kind: "video",
      bytesReceived: bytesIn / 2,
      packetsLost: 0,
      packetsReceived: received / 2,
    },
    { type: "outbound-rtp", id: "O1", kind: "video", bytesSent: bytesOut },
    { type: "media-source", id: "M1", kind: "audio", audioLevel: 0.12 },
  ];
}

Deno.test("summarizeStats reads RTT, candidate types and level from the selected pair", () => {
  const { quality } = summarizeStats(report(0, 0, 0, 0), { previous: null, now: 0 });
  assert.equal(quality.rttMs, 42);
  assert.equal(quality.candidateType, "host");
  assert.equal(quality.remoteCandidateType, "srflx");
  assert.equal(quality.audioLevel, 0.3);
  assert.equal(quality.inKbps, null, "no rate without a previous sample");
  assert.equal(quality.lossPercent, null);
});

Deno.test("summarizeStats computes bitrates and loss over the interval", () => {
  const first = summarizeStats(report(100_000, 50_000, 10, 1000), { previous: null, now: 1000 });
  const { quality } = summarizeStats(report(350_000, 175_000, 20, 1990), {
    previous: first.sample,
    now: 3000,
  });
  assert.equal(quality.inKbps, 1000); // 250 kB in 2 s
  assert.equal(quality.outKbps, 500);
  assert.equal(quality.lossPercent, 1); // 10 lost of 1000
});

Deno.test("summarizeStats falls back to the nominated pair without transport stats (Firefox)", () => {
  const entries = report(0, 0, 0, 0).filter((e) => e.type !== "transport");
  assert.equal(summarizeStats(entries, { previous: null, now: 0 }).quality.candidateType, "host");
});

Deno.test("gradeQuality grades by loss and round-trip time", () => {
  const base = summarizeStats(report(0, 0, 0, 0), { previous: null, now: 0 }).quality;
  assert.equal(gradeQuality(null), "unknown");
  assert.equal(gradeQuality(base), "good");
  assert.equal(gradeQuality({ ...base, lossPercent: 3 }), "fair");
  assert.equal(gradeQuality({ ...base, rttMs: 700 }), "poor");
});

Deno.test("localAudioLevel reads our microphone's media-source level", () => {
  assert.equal(localAudioLevel(report(0, 0, 0, 0)), 0.12);
  assert.equal(localAudioLevel([]), 0);
});

Deno.test("pickActiveSpeaker picks the loudest and holds the highlight between words", () => {
  let state = pickActiveSpeaker(new Map([["a", 0.2], ["b", 0.4]]), {
    current: { id: null, since: 0 },
    now: 0,
  });
  assert.equal(state.id, "b");
  state = pickActiveSpeaker(new Map([["a", 0.01], ["b", 0.01]]), { current: state, now: 1000 });
  assert.equal(state.id, "b", "a short pause keeps the highlight");
  state = pickActiveSpeaker(new Map([["a", 0.01], ["b", 0.01]]), { current: state, now: 2000 });
  assert.equal(state.id, null, "silence past the hold clears it");
  state = pickActiveSpeaker(new Map([["a", 0.04]]), { current: state, now: 2500 });
  assert.equal(state.id, null, "background noise is not speech");
});

Deno.test("pickActiveSpeaker drops a speaker who left", () => {
  const state = pickActiveSpeaker(new Map(), { current: { id: "gone", since: 0 }, now: 100 });
  assert.equal(state.id, null);
});
