import assert from "node:assert/strict";
import { WARMUP_MS } from "../client/adaptive.ts";
import { Monitor, STATS_EVERY_TICKS } from "../client/monitor.ts";
import { CallModel } from "../client/store.ts";
import { Hub } from "../lib/hub.ts";
import { sequentialIds } from "./_helpers.ts";
import { connect, deliver, meshed, wireMesh } from "./_mesh.ts";
import { ManualTimers } from "./_wait.ts";

Deno.test("Monitor samples stats into quality and picks the active speaker", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  ann.pcs[0].stats = [
    { type: "transport", id: "T", selectedCandidatePairId: "P" },
    { type: "candidate-pair", id: "P", localCandidateId: "L", currentRoundTripTime: 0.01 },
    { type: "local-candidate", id: "L", candidateType: "host" },
    { type: "inbound-rtp", id: "A", kind: "audio", audioLevel: 0.5 },
  ];
  await ann.monitor.sample();
  const seen = ann.store.qualities.value.get(bob.id);
  assert.equal(seen?.candidateType, "host");
  assert.equal(seen?.rttMs, 10);
  assert.equal(ann.store.activeSpeaker.value, bob.id);
  // A muted participant is never highlighted, whatever the stats say.
  ann.store.patchParticipant(bob.id, { micOn: false });
  await ann.monitor.sample();
  assert.equal(ann.store.activeSpeaker.value, null);
});

Deno.test("Monitor diagnoses a connection stuck connecting", async () => {
  let now = 0;
  const store = new CallModel({ room: "r", name: "Ann" });
  const { mesh, monitor } = wireMesh(store, { now: () => now });
  deliver(store, mesh, {
    event: "welcome",
    data: { peer_id: "me", protocol: 1, ice_servers: [{ urls: "stun:stun.example" }] },
  });
  deliver(store, mesh, {
    event: "addPeer",
    data: { peer_id: "bob", should_create_offer: true, polite: false, userdata: { name: "Bob" } },
  });
  await monitor.sample();
  assert.equal(store.participants.value.get("bob")?.diagnosis, null);
  now = 11_000;
  await monitor.sample();
  assert.match(
    store.participants.value.get("bob")?.diagnosis?.summary ?? "",
    /still trying to connect to Bob/,
  );
  mesh.closeAll();
});

Deno.test("Monitor lowers each video copy's bitrate as the room grows, the camera small while a connection warms up", async () => {
  let now = 0;
  const clock = { now: () => now };
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann", "room", clock);
  const bob = connect(hub, "Bob", "room", clock);
  await meshed([ann, bob]);
  const video = () => ann.pcs.map((pc) => pc.senders.find((s) => s.kind === "video")!);
  const encoding = () => video().map((sender) => sender.parameters.encodings[0]);
  await ann.monitor.adaptQuality();
  assert.deepEqual(encoding(), [{
    maxBitrate: 1_500_000,
    scaleResolutionDownBy: 2,
    maxFramerate: 30,
  }]);
  now += WARMUP_MS;
  await ann.monitor.adaptQuality();
  assert.deepEqual(encoding(), [{
    maxBitrate: 1_500_000,
    scaleResolutionDownBy: 1,
    maxFramerate: 30,
  }]);
  const cid = connect(hub, "Cid", "room", clock);
  const dee = connect(hub, "Dee", "room", clock);
  await meshed([ann, bob, cid, dee]);
  await ann.monitor.adaptQuality();
  // Bob's connection is warm; Cid's and Dee's are new (and 480p is under the warm-up's 360p cap).
  assert.deepEqual(encoding().map((e) => [e.maxBitrate, e.scaleResolutionDownBy]), [
    [650_000, 1.5],
    [650_000, 2],
    [650_000, 2],
  ]);
  now += WARMUP_MS;
  await ann.monitor.adaptQuality();
  for (const e of encoding()) {
    assert.deepEqual([e.maxBitrate, e.scaleResolutionDownBy], [650_000, 1.5]);
  }
});

Deno.test("The offering side's video starts at the room's encoding: no setParameters before the offer or after", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann");
  const bob = connect(hub, "Bob");
  const cid = connect(hub, "Cid");
  await meshed([ann, bob, cid]);
  // Cid joined last and offered to both: each copy ends at the three-person encoding.
  const video = cid.pcs.map((pc) => pc.senders.find((s) => s.kind === "video")!);
  assert.equal(video.length, 2);
  for (const sender of video) {
    // Warming up: the camera at half size until the connection has measured the link.
    assert.deepEqual(sender.parameters.encodings[0], {
      maxBitrate: 1_000_000,
      scaleResolutionDownBy: 2,
      maxFramerate: 30,
    });
  }
  await cid.monitor.adaptQuality();
  // The copy made as the room grew started right; the one made before it was adapted once.
  assert.deepEqual(video.map((sender) => sender.setParametersCalls), [1, 0]);
  // Audio keeps the browser's own.
  const audio = cid.pcs[0].senders.find((s) => s.kind === "audio")!;
  assert.deepEqual(audio.parameters.encodings, [{}]);
});

Deno.test("Monitor samples on the injected timers until stopped", () => {
  const timers = new ManualTimers();
  const store = new CallModel({ room: "r", name: "Ann" });
  let samples = 0;
  const { mesh } = wireMesh(store);
  const monitor = new Monitor({
    store,
    peers: () => ({
      get peerIds() {
        samples++;
        return mesh.peerIds;
      },
      peer: (id) => mesh.peer(id),
      iceServers: mesh.iceServers,
    }),
    timers,
  });
  monitor.start(0);
  assert.equal(timers.pending.size, 0, "0 turns sampling off");
  monitor.start(500);
  assert.equal(timers.fire(), 500);
  assert.ok(samples > 0, "a sample ran");
  assert.equal(timers.pending.size, 1, "the next one is already scheduled");
  monitor.stop();
  assert.equal(timers.pending.size, 0);
});

Deno.test("Monitor reads the whole stats only every few ticks; between them it listens for the speaker without them", async () => {
  const timers = new ManualTimers();
  const hub = new Hub({ newId: sequentialIds() });
  const people = ["Ann", "Bob", "Cid", "Dee"].map((name) => connect(hub, name));
  await meshed(people);
  const [ann] = people;
  const monitor = new Monitor({ store: ann.store, peers: () => ann.mesh, timers });
  for (const peerId of ann.mesh.peerIds) monitor.peerAdded(peerId);
  monitor.start(500);
  const ticks = 3 * STATS_EVERY_TICKS;
  for (let i = 0; i < ticks; i++) {
    timers.fire();
    await Promise.resolve();
  }
  monitor.stop();
  // Three full samples of each of the three connections, however many ticks listened.
  assert.deepEqual(ann.pcs.map((pc) => pc.statsCalls), [3, 3, 3]);
  for (const person of people) person.mesh.closeAll();
});
