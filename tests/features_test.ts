import assert from "node:assert/strict";
import { applyEncoding, videoEncodingFor } from "../client/adaptive.ts";
import { diagnose, type IceFacts, typeOfCandidate } from "../client/diagnosis.ts";
import {
  gradeQuality,
  localAudioLevel,
  pickActiveSpeaker,
  type StatsEntry,
  summarizeStats,
} from "../client/quality.ts";
import { shortcutFor } from "../client/shortcuts.ts";
import { FakeSender } from "./_fake_rtc.ts";

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

function facts(overrides: Partial<IceFacts>): IceFacts {
  return {
    iceServers: [],
    localTypes: new Set(["host"]),
    remoteTypes: new Set(["host"]),
    candidateErrors: [],
    failed: true,
    ...overrides,
  };
}

Deno.test("diagnose blames a missing TURN server when direct routes failed", () => {
  const d = diagnose(
    facts({
      iceServers: [{ urls: "stun:stun.example" }],
      localTypes: new Set(["host", "srflx"]),
      remoteTypes: new Set(["host", "srflx"]),
    }),
    "Bob",
  );
  assert.match(d.summary, /could not connect to Bob/);
  assert.match(d.summary, /no relay \(TURN\) server is configured/);
  assert.match(d.operatorHint, /Add a TURN server to ICE_SERVERS/);
});

Deno.test("diagnose explains host-only candidates with no ICE servers at all", () => {
  const d = diagnose(facts({}), "Bob");
  assert.match(d.summary, /different networks and no STUN or TURN server/);
});

Deno.test("diagnose names unreachable ICE servers from icecandidateerror", () => {
  const d = diagnose(
    facts({
      iceServers: [{ urls: "stun:stun.example:3478" }],
      candidateErrors: [{ url: "stun:stun.example:3478", errorCode: 701, errorText: "timeout" }],
    }),
    "Bob",
  );
  assert.match(
    d.summary,
    /could not reach the connection helper server \(stun:stun\.example:3478\)/,
  );
  assert.match(d.operatorHint, /reachable/);
});

Deno.test("diagnose spots refused TURN credentials and a TURN server giving no relay", () => {
  const turn = [{ urls: "turn:turn.example:3478", username: "u", credential: "p" }];
  const auth = diagnose(
    facts({
      iceServers: turn,
      candidateErrors: [{
        url: "turn:turn.example:3478",
        errorCode: 401,
        errorText: "Unauthorized",
      }],
    }),
    "Bob",
  );
  assert.match(auth.summary, /refused its credentials/);
  const noRelay = diagnose(facts({ iceServers: turn, failed: false }), "Bob");
  assert.match(noRelay.summary, /is still trying to connect to Bob, and got no relay address/);
  const relayed = diagnose(facts({ iceServers: turn, localTypes: new Set(["relay"]) }), "Bob");
  assert.match(relayed.summary, /even through the relay server/);
});

Deno.test("typeOfCandidate reads the typ field", () => {
  assert.equal(
    typeOfCandidate("candidate:1 1 udp 2122 192.168.1.2 5000 typ host generation 0"),
    "host",
  );
  assert.equal(
    typeOfCandidate("candidate:2 1 udp 1686 1.2.3.4 5000 typ srflx raddr 0.0.0.0"),
    "srflx",
  );
  assert.equal(typeOfCandidate("candidate:3 1 udp 1 5.6.7.8 5000 typ relay"), "relay");
  assert.equal(typeOfCandidate(""), null);
});

Deno.test("videoEncodingFor shrinks each copy as the mesh grows, keeping total upload bounded", () => {
  let previous = Infinity;
  for (let others = 1; others <= 7; others++) {
    const e = videoEncodingFor(others, "camera");
    assert.ok(e.maxBitrate <= previous, `non-increasing at ${others}`);
    previous = e.maxBitrate;
    assert.ok(e.maxBitrate * others <= 2_000_000, `total upload at ${others} peers`);
  }
  assert.equal(videoEncodingFor(1, "camera").scaleResolutionDownBy, 1);
  assert.equal(videoEncodingFor(5, "camera").scaleResolutionDownBy, 2);
  const screen = videoEncodingFor(5, "screen");
  assert.equal(screen.scaleResolutionDownBy, 1, "screens keep their resolution");
  assert.ok(screen.maxFramerate <= 15);
});

Deno.test("applyEncoding sets the first encoding and skips no-op updates", async () => {
  const sender = new FakeSender(null, "video", "s");
  sender.parameters = { encodings: [{ rid: "keep" }] };
  const encoding = videoEncodingFor(3, "camera");
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), true);
  assert.deepEqual(sender.parameters.encodings[0], { rid: "keep", ...encoding });
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), false);
  assert.equal(sender.setParametersCalls, 1);
  sender.parameters = { encodings: [] };
  assert.equal(await applyEncoding(sender as unknown as RTCRtpSender, encoding), false);
});

Deno.test("shortcutFor maps single keys, but never while typing or with modifiers", () => {
  const key = (k: string, extra: Partial<Parameters<typeof shortcutFor>[0]> = {}) =>
    shortcutFor({
      key: k,
      shiftKey: false,
      ctrlKey: false,
      metaKey: false,
      altKey: false,
      ...extra,
    });
  assert.equal(key("m"), "mic");
  assert.equal(key("V"), "camera");
  assert.equal(key("h"), "hand");
  assert.equal(key("c"), "chat");
  assert.equal(key("?", { shiftKey: true }), "help");
  assert.equal(key("L", { shiftKey: true }), "leave");
  assert.equal(key("l"), null, "leaving needs Shift");
  assert.equal(key("m", { ctrlKey: true }), null);
  assert.equal(key("m", { repeat: true }), null);
  assert.equal(key("m", { target: { tagName: "INPUT" } }), null);
  assert.equal(key("m", { target: { tagName: "DIV", isContentEditable: true } }), null);
  assert.equal(key("x"), null);
});
