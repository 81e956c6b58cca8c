import assert from "node:assert/strict";
import {
  type LocalTrack,
  MAX_EARLY_CANDIDATES,
  Peer,
  type PeerOptions,
  type PeerSignal,
} from "../client/peer.ts";
import {
  fakeMedia as media,
  FakePeerConnection,
  FakeStream,
  hostCandidate,
  later,
  quiet,
} from "./_fake_rtc.ts";
import { ManualTimers, until } from "./_wait.ts";

/** An offer from a connection this test did not create (data channel only). */
const REMOTE_OFFER = {
  type: "offer" as const,
  sdp: JSON.stringify({ origin: "elsewhere", tracks: [], data: true, version: 1 }),
};

interface Side {
  peer: Peer;
  pc: FakePeerConnection;
  streams: FakeStream[];
  messages: string[];
  errors: unknown[];
  signals: PeerSignal[];
}

/**
 * Two peers joined by an in-memory "server" that delivers each signal in a
 * later task, in order. `hold` keeps signals to one side until released.
 */
function link(
  options: {
    aPolite?: boolean;
    aTracks?: LocalTrack[];
    bTracks?: LocalTrack[];
  } = {},
) {
  const { aPolite = false, aTracks = media(), bTracks = media() } = options;
  const sides: Record<"a" | "b", Side> = {} as Record<"a" | "b", Side>;
  const make = (
    name: "a" | "b",
    other: "a" | "b",
    polite: boolean,
    tracks: LocalTrack[],
  ) => {
    const pc = new FakePeerConnection({});
    const side: Side = {
      pc,
      streams: [],
      messages: [],
      errors: [],
      signals: [],
    } as unknown as Side;
    side.peer = new Peer(pc as unknown as RTCPeerConnection, {
      polite,
      // The server tells the impolite side (the joiner) to offer first.
      initiator: !polite,
      tracks,
      signal: (message) => {
        side.signals.push(message);
        const copy = structuredClone(message);
        later(() => void sides[other].peer.receive(copy));
      },
      onStream: (stream) => {
        const s = stream as unknown as FakeStream;
        if (!side.streams.includes(s)) side.streams.push(s);
      },
      onMessage: (data) => side.messages.push(data),
      onError: (error) => side.errors.push(error),
    });
    sides[name] = side;
  };
  make("a", "b", aPolite, aTracks);
  make("b", "a", !aPolite, bTracks);
  return sides;
}

function kindsOf(stream: FakeStream | undefined) {
  return stream?.getTracks().map((t) => t.kind).sort() ?? [];
}

/** A peer with no other side: what it signals is kept in `sent`. */
function alone(
  options: Partial<PeerOptions> & Pick<PeerOptions, "polite">,
): { peer: Peer; pc: FakePeerConnection; sent: PeerSignal[] } {
  const pc = new FakePeerConnection({});
  const sent: PeerSignal[] = [];
  const peer = new Peer(pc as unknown as RTCPeerConnection, {
    initiator: !options.polite,
    tracks: [],
    signal: (m) => sent.push(m),
    ...options,
  });
  return { peer, pc, sent };
}

/** Waits until every fake operation and relayed signal has run. */
function settled(): Promise<void> {
  return until(quiet, "the peers to finish negotiating");
}

/** Waits until both sides are connected with their data channel open. */
function connected({ a, b }: Record<"a" | "b", Side>): Promise<void> {
  return until(
    () => [a, b].every((s) => s.pc.connectionState === "connected" && s.peer.channelOpen),
    "both sides to connect and open the data channel",
  );
}

Deno.test("Peer connects an offerer and an answerer with one offer and no glare", async () => {
  const sides = link();
  const { a, b } = sides;
  await connected(sides);
  await settled();
  for (const side of [a, b]) {
    assert.equal(side.pc.signalingState, "stable");
    assert.equal(side.pc.connectionState, "connected");
    assert.deepEqual(side.errors, []);
    assert.equal(side.streams.length, 1, "one remote stream: one tile");
    assert.deepEqual(kindsOf(side.streams[0]), ["audio", "video"]);
    assert.equal(side.pc.rollbacks, 0);
  }
  assert.equal(a.pc.offersMade, 1);
  assert.equal(
    b.pc.offersMade,
    0,
    "the answerer sent its tracks in the answer",
  );
  assert.equal(a.peer.channelOpen && b.peer.channelOpen, true);
  assert.ok(a.signals.some((s) => "candidate" in s), "candidates are trickled");
  assert.ok(b.pc.candidates.length > 0);
});

Deno.test("Peer starts a call when neither side has media (the data channel offers)", async () => {
  const sides = link({ aTracks: [], bTracks: [] });
  const { a, b } = sides;
  await connected(sides);
  await settled();
  assert.equal(a.pc.signalingState, "stable");
  assert.equal(b.pc.connectionState, "connected");
  assert.equal(a.peer.send("hi"), true);
  await until(() => b.messages.length > 0, "B to receive A's message");
  assert.deepEqual(b.messages, ["hi"]);
  assert.equal(b.peer.send("hello back"), true);
  await until(() => a.messages.length > 0, "A to receive B's reply");
  assert.deepEqual(a.messages, ["hello back"]);
});

for (const aPolite of [false, true]) {
  Deno.test(`Peer resolves glare when both sides renegotiate in one tick (A ${aPolite ? "polite" : "impolite"})`, async () => {
    const aStream = new FakeStream();
    const bStream = new FakeStream();
    const sides = link({
      aPolite,
      aTracks: media(["audio"], aStream),
      bTracks: media(["audio"], bStream),
    });
    const { a, b } = sides;
    await connected(sides);
    await settled();
    const [polite, impolite] = aPolite ? [a, b] : [b, a];
    const rollbacksBefore = polite.pc.rollbacks;
    // Both add video in the same tick: both fire negotiationneeded and offer.
    // Each adds video to the stream its audio is in (one tile per peer).
    const aVideo = media(["video"], aStream)[0];
    const bVideo = media(["video"], bStream)[0];
    await Promise.all([
      a.peer.setTrack("video", aVideo),
      b.peer.setTrack("video", bVideo),
    ]);
    await until(
      () => kindsOf(a.streams[0]).includes("video") && kindsOf(b.streams[0]).includes("video"),
      "both sides to receive the other's video",
    );
    await settled();
    assert.equal(a.pc.signalingState, "stable");
    assert.equal(b.pc.signalingState, "stable");
    assert.equal(
      polite.pc.rollbacks,
      rollbacksBefore + 1,
      "the polite side rolled back",
    );
    assert.equal(
      impolite.pc.rollbacks,
      0,
      "the impolite side never rolls back",
    );
    assert.deepEqual(kindsOf(a.streams[0]), ["audio", "video"]);
    assert.deepEqual(kindsOf(b.streams[0]), ["audio", "video"]);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });
}

Deno.test("Peer switches a track with replaceTrack and no renegotiation", async () => {
  const sides = link();
  const { a, b } = sides;
  await connected(sides);
  await settled();
  const offers = a.pc.offersMade + b.pc.offersMade;
  const next = media(["video"])[0];
  await a.peer.setTrack("video", next);
  await a.peer.setTrack("video", null); // camera off
  await settled();
  const sender = a.pc.senders.find((s) => s.kind === "video")!;
  assert.equal(sender.replaced, 2);
  assert.equal(sender.track, null);
  assert.equal(a.pc.offersMade + b.pc.offersMade, offers);
});

Deno.test("Peer adds a track it never had by renegotiating from the answering side", async () => {
  const sides = link({ bTracks: [] });
  const { a, b } = sides;
  await connected(sides);
  await settled();
  assert.deepEqual(kindsOf(a.streams[0]), []);
  await b.peer.setTrack("audio", media(["audio"])[0]);
  await until(() => kindsOf(a.streams[0]).includes("audio"), "A to receive B's new audio");
  await settled();
  assert.equal(b.pc.offersMade, 1, "the polite side offers when it needs to");
  assert.deepEqual(kindsOf(a.streams[0]), ["audio"]);
  assert.equal(a.pc.signalingState, "stable");
});

Deno.test("Peer holds a candidate that arrives before any description, then applies it", async () => {
  const errors: unknown[] = [];
  const { peer, pc, sent } = alone({ polite: true, onError: (e) => errors.push(e) });
  const early = hostCandidate(9);
  await peer.receive({ candidate: early });
  assert.deepEqual(pc.candidates, []);
  await peer.receive({ description: REMOTE_OFFER });
  assert.deepEqual(pc.candidates, [early]);
  assert.deepEqual(errors, []);
  assert.equal(
    sent.filter((m) => "description" in m)[0]?.description.type,
    "answer" as RTCSdpType,
  );
});

Deno.test("Peer ignores a colliding offer on the impolite side", async () => {
  const { peer, pc, sent } = alone({ polite: false });
  await until(() => pc.signalingState === "have-local-offer", "our own offer");
  await settled();
  assert.equal(pc.signalingState, "have-local-offer");
  await peer.receive({ description: REMOTE_OFFER });
  // A candidate belonging to the ignored offer must not surface as an error.
  await peer.receive({
    candidate: { candidate: "candidate:1 1 udp 1 1.2.3.4 9 typ host" },
  });
  assert.equal(pc.signalingState, "have-local-offer");
  assert.equal(pc.rollbacks, 0);
  assert.equal(
    sent.filter((m) => "description" in m).length,
    1,
    "only our own offer",
  );
});

Deno.test("Peer close closes the connection and ignores later signals", async () => {
  const sides = link();
  const { a, b } = sides;
  await connected(sides);
  a.peer.close();
  assert.equal(a.pc.connectionState, "closed");
  await a.peer.receive({ description: { type: "offer", sdp: "{}" } });
  assert.deepEqual(a.errors, []);
  assert.equal(a.peer.send("x"), false);
  b.peer.close();
});

Deno.test("Peer delivers data channel messages sent before the channel opened", async () => {
  const { a, b } = link();
  assert.equal(a.peer.channelOpen, false);
  assert.equal(a.peer.send("sent while connecting"), true);
  await until(() => b.messages.length > 0, "the message sent while connecting");
  assert.deepEqual(b.messages, ["sent while connecting"]);
});

Deno.test("Peer holds at most MAX_EARLY_CANDIDATES from a peer that never describes itself", async () => {
  const { peer, pc } = alone({ polite: true });
  for (let i = 0; i < MAX_EARLY_CANDIDATES + 50; i++) {
    await peer.receive({ candidate: hostCandidate(i) });
  }
  await peer.receive({ description: REMOTE_OFFER });
  assert.equal(pc.candidates.length, MAX_EARLY_CANDIDATES, "the first ones, no more");
  peer.close();
});

Deno.test("Peer restarts ICE when a connection stays disconnected", () => {
  const timers = new ManualTimers();
  const { peer, pc } = alone({ polite: false, timers });
  pc.setConnectionState("disconnected");
  pc.setConnectionState("connected"); // healed by itself: the wait is cancelled
  assert.equal(timers.pending.size, 0);
  assert.equal(pc.iceRestarts, 0);
  pc.setConnectionState("disconnected");
  assert.equal(timers.fire(), 4000, "waits a few seconds first");
  assert.equal(pc.iceRestarts, 1);
  peer.close();
});

Deno.test("Peer stops restarting ICE on its own after three failures", () => {
  const { peer, pc } = alone({ polite: true });
  for (let i = 0; i < 5; i++) pc.setConnectionState("failed");
  assert.equal(pc.iceRestarts, 3);
  pc.setConnectionState("connected");
  pc.setConnectionState("failed");
  assert.equal(pc.iceRestarts, 4, "a working connection resets the count");
  peer.close();
});

Deno.test("Peer makes its unanswered offer again when the other side comes back", async () => {
  const pc = new FakePeerConnection({});
  const sent: PeerSignal[] = [];
  // The offer goes to a server that then dies: the other side never gets it.
  const peer = new Peer(pc as unknown as RTCPeerConnection, {
    polite: false,
    initiator: true,
    tracks: media(),
    signal: (message) => sent.push(message),
    onStream: () => {},
    onMessage: () => {},
  });
  const offers = () => sent.filter((s) => "description" in s && s.description.type === "offer");
  await until(() => offers().length === 1, "the first offer");
  await quiet();
  assert.equal(pc.signalingState, "have-local-offer", "waiting for an answer that never comes");
  peer.renegotiate();
  await until(() => offers().length === 2, "the offer made again");
  assert.equal(pc.iceRestarts, 1, "with new candidates");
  peer.close();
});

Deno.test("Peer says when a negotiation ends, so the fingerprints can be checked again", async () => {
  let negotiated = 0;
  const { peer, pc } = alone({ polite: true, onNegotiated: () => negotiated++ });
  await settled();
  assert.equal(negotiated, 0, "control: nothing negotiated yet");
  await peer.receive({ description: REMOTE_OFFER });
  await until(() => negotiated === 1, "the answer to bring signaling back to stable");
  assert.equal(pc.signalingState, "stable");
});
