import assert from "node:assert/strict";
import { Mesh, PEER_MESSAGE_BURST } from "../client/mesh.ts";
import type { LocalTrack } from "../client/peer.ts";
import { CallModel, type CallStore } from "../client/store.ts";
import { Hub } from "../lib/hub.ts";
import { encode, parseServerMessage, type ServerMessage } from "../lib/protocol.ts";
import { FakePeerConnection, FakeStream, FakeTrack, settle } from "./_fake_rtc.ts";
import { sequentialIds } from "./_helpers.ts";

interface Client {
  store: CallStore;
  mesh: Mesh;
  id: string;
  pcs: FakePeerConnection[];
  received: ServerMessage[];
  leave(): void;
}

function tracks(): LocalTrack[] {
  const stream = new FakeStream();
  return (["audio", "video"] as const).map((kind) => {
    const track = new FakeTrack(kind);
    stream.addTrack(track);
    return {
      kind,
      track: track as unknown as MediaStreamTrack,
      stream: stream as unknown as MediaStream,
    };
  });
}

/** A client mesh wired to a real Hub, frames delivered in later tasks. */
function connect(hub: Hub, name: string, room = "room"): Client {
  const store = new CallModel({ room, name });
  const pcs: FakePeerConnection[] = [];
  const received: ServerMessage[] = [];
  const local = tracks();
  const session = hub.connect({
    bufferedAmount: 0,
    send: (text) => {
      const parsed = parseServerMessage(text);
      assert.ok(parsed.ok, text);
      setTimeout(() => {
        received.push(parsed.value);
        mesh.handle(parsed.value);
      }, 0);
    },
    close: () => {},
  });
  const mesh: Mesh = new Mesh({
    store,
    send: (message) => setTimeout(() => session.receive(encode(message)), 0),
    createConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    localTracks: () => local,
    now: () => Date.UTC(2026, 0, 1, 12, 30),
  });
  setTimeout(
    () =>
      session.receive(
        encode({ event: "join", data: { channel: room, userdata: { name } } }),
      ),
    0,
  );
  return {
    store,
    mesh,
    id: session.peerId,
    pcs,
    received,
    leave: () => session.close(),
  };
}

Deno.test("Mesh connects everyone in a room through the hub with one stream per peer", async () => {
  const hub = new Hub({
    newId: sequentialIds(),
    iceServers: [{ urls: "stun:example.test" }],
  });
  const clients = [
    connect(hub, "Ann"),
    connect(hub, "Bob"),
    connect(hub, "Cid"),
  ];
  await settle();
  for (const client of clients) {
    const others = clients.filter((c) => c !== client);
    assert.deepEqual(
      client.mesh.peerIds.sort(),
      others.map((c) => c.id).sort(),
    );
    assert.deepEqual(
      client.store.participantList.value.map((p) => p.name).sort(),
      others.map((c) => c.store.name.value).sort(),
    );
    for (const participant of client.store.participantList.value) {
      assert.equal(participant.connection, "connected");
      const stream = participant.stream as unknown as FakeStream;
      assert.deepEqual(stream.getTracks().map((t) => t.kind).sort(), [
        "audio",
        "video",
      ]);
    }
    assert.deepEqual(client.pcs[0].config, {
      iceServers: [{ urls: "stun:example.test" }],
    });
  }
});

Deno.test("Mesh delivers chat with the sender's server-introduced name, never HTML", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  assert.equal(ann.mesh.sendChat("  <img src=x onerror=alert(1)>  "), true);
  assert.equal(ann.mesh.sendChat("   "), false);
  await settle(5);
  assert.deepEqual(ann.store.chat.value.map((m) => [m.from, m.name, m.text]), [
    [null, "Ann", "<img src=x onerror=alert(1)>"],
  ]);
  assert.deepEqual(
    bob.store.chat.value.map((m) => [m.from, m.name, m.text, m.at]),
    [
      [
        ann.id,
        "Ann",
        "<img src=x onerror=alert(1)>",
        Date.UTC(2026, 0, 1, 12, 30),
      ],
    ],
  );
});

Deno.test("Mesh shows a peer's mute and camera state from its data channel", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  ann.store.micOn.value = false;
  ann.mesh.announceState();
  await settle(5);
  const seen = bob.store.participants.value.get(ann.id)!;
  assert.equal(seen.micOn, false);
  assert.equal(seen.camOn, true);
});

Deno.test("Mesh ignores malformed data channel messages", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  for (
    const junk of [
      "nope",
      "{}",
      '{"type":"chat","text":5}',
      '{"type":"state","mic":"no"}',
    ]
  ) {
    ann.mesh.broadcast(junk);
  }
  await settle(5);
  assert.deepEqual(bob.store.chat.value, []);
  assert.equal(bob.store.participants.value.get(ann.id)?.micOn, true);
});

Deno.test("Mesh removes the tile and closes the connection on removePeer", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  const pc = ann.pcs[0];
  bob.leave();
  await settle(5);
  assert.deepEqual(ann.mesh.peerIds, []);
  assert.equal(ann.store.participants.value.size, 0);
  assert.equal(pc.connectionState, "closed");
});

Deno.test("Mesh keeps a failed peer's tile, restarts ICE and says why it failed", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  ann.pcs[0].setConnectionState("failed");
  assert.equal(ann.pcs[0].iceRestarts, 1);
  const seen = ann.store.participants.value.get(bob.id)!;
  assert.equal(seen.connection, "failed");
  assert.match(seen.diagnosis?.summary ?? "", /could not connect to Bob/);
  assert.match(seen.diagnosis?.operatorHint ?? "", /TURN/);
  await settle();
  assert.equal(ann.pcs[0].signalingState, "stable", "the restart renegotiated");
  ann.pcs[0].setConnectionState("connected");
  assert.equal(ann.store.participants.value.get(bob.id)?.diagnosis, null);
  assert.deepEqual(ann.mesh.peerIds, [bob.id], "same connection, same tile");
});

Deno.test("Mesh keeps the existing connection when addPeer repeats", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  const before = ann.mesh.peer(bob.id);
  ann.mesh.handle({
    event: "addPeer",
    data: {
      peer_id: bob.id,
      should_create_offer: true,
      polite: false,
      userdata: { name: "Bob" },
    },
  });
  assert.equal(ann.mesh.peer(bob.id), before);
  assert.equal(ann.pcs.length, 1);
});

Deno.test("Mesh does not mesh across rooms", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann", "one");
  const bob = connect(hub, "Bob", "two");
  await settle();
  assert.deepEqual(ann.mesh.peerIds, []);
  assert.deepEqual(bob.mesh.peerIds, []);
});

Deno.test("Mesh closeAll closes every connection and empties the grid", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann] = [connect(hub, "Ann"), connect(hub, "Bob"), connect(hub, "Cid")];
  await settle();
  ann.mesh.closeAll();
  assert.equal(ann.store.participants.value.size, 0);
  assert.ok(ann.pcs.every((pc) => pc.connectionState === "closed"));
});

for (const sharer of ["Ann", "Bob"] as const) {
  Deno.test(`Mesh shows a screen share as a second stream and drops it when it ends (${sharer} shares)`, async () => {
    const hub = new Hub({ newId: sequentialIds() });
    const ann = connect(hub, "Ann");
    const bob = connect(hub, "Bob");
    await settle();
    const [from, to] = sharer === "Ann" ? [ann, bob] : [bob, ann];
    const track = new FakeTrack("video");
    const screen = new FakeStream([track]);
    from.store.screenStream.value = screen as unknown as MediaStream;
    from.mesh.announceState();
    await from.mesh.setTrack("screen", {
      kind: "screen",
      track: track as unknown as MediaStreamTrack,
      stream: screen as unknown as MediaStream,
    });
    await settle();
    const seen = to.store.participants.value.get(from.id)!;
    assert.equal((seen.screen as unknown as FakeStream)?.id, screen.id);
    assert.notEqual(
      (seen.stream as unknown as FakeStream)?.id,
      screen.id,
      "camera stays the main video",
    );
    assert.deepEqual((seen.stream as unknown as FakeStream).getTracks().map((t) => t.kind).sort(), [
      "audio",
      "video",
    ]);

    from.store.screenStream.value = null;
    from.mesh.announceState();
    await from.mesh.setTrack("screen", null);
    await settle();
    assert.equal(to.store.participants.value.get(from.id)?.screen, null);
    assert.equal(from.pcs[0].senders.length, 2, "the screen sender was removed");
    assert.equal(from.pcs[0].signalingState, "stable");
  });
}

Deno.test("Mesh tells everyone about a raised hand", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  ann.store.handRaised.value = true;
  ann.mesh.announceState();
  await settle(5);
  assert.equal(bob.store.participants.value.get(ann.id)?.handRaised, true);
});

Deno.test("Mesh samples stats into quality and picks the active speaker", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  ann.pcs[0].stats = [
    { type: "transport", id: "T", selectedCandidatePairId: "P" },
    { type: "candidate-pair", id: "P", localCandidateId: "L", currentRoundTripTime: 0.01 },
    { type: "local-candidate", id: "L", candidateType: "host" },
    { type: "inbound-rtp", id: "A", kind: "audio", audioLevel: 0.5 },
  ];
  await ann.mesh.sampleStats();
  const seen = ann.store.participants.value.get(bob.id)!;
  assert.equal(seen.quality?.candidateType, "host");
  assert.equal(seen.quality?.rttMs, 10);
  assert.equal(ann.store.activeSpeaker.value, bob.id);
  // A muted participant is never highlighted, whatever the stats say.
  ann.store.patchParticipant(bob.id, { micOn: false });
  await ann.mesh.sampleStats();
  assert.equal(ann.store.activeSpeaker.value, null);
});

Deno.test("Mesh diagnoses a connection stuck connecting", async () => {
  let now = 0;
  const store = new CallModel({ room: "r", name: "Ann" });
  const pcs: FakePeerConnection[] = [];
  const mesh = new Mesh({
    store,
    send: () => {},
    createConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    localTracks: () => [],
    now: () => now,
  });
  mesh.handle({
    event: "welcome",
    data: { peer_id: "me", protocol: 1, ice_servers: [{ urls: "stun:stun.example" }] },
  });
  mesh.handle({
    event: "addPeer",
    data: { peer_id: "bob", should_create_offer: true, polite: false, userdata: { name: "Bob" } },
  });
  await mesh.sampleStats();
  assert.equal(store.participants.value.get("bob")?.diagnosis, null);
  now = 11_000;
  await mesh.sampleStats();
  assert.match(
    store.participants.value.get("bob")?.diagnosis?.summary ?? "",
    /still trying to connect to Bob/,
  );
  mesh.closeAll();
});

Deno.test("Mesh lowers each video copy's bitrate as the room grows", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann");
  connect(hub, "Bob");
  await settle();
  await ann.mesh.adaptQuality();
  const video = () => ann.pcs.map((pc) => pc.senders.find((s) => s.kind === "video")!);
  assert.equal(video()[0].parameters.encodings[0].maxBitrate, 1_500_000);
  connect(hub, "Cid");
  connect(hub, "Dee");
  await settle();
  await ann.mesh.adaptQuality();
  for (const sender of video()) {
    assert.equal(sender.parameters.encodings[0].maxBitrate, 650_000);
    assert.equal(sender.parameters.encodings[0].scaleResolutionDownBy, 1.5);
  }
});

Deno.test("Mesh drops a peer's chat flood past its allowance, keeping the first messages", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await settle();
  for (let i = 0; i < 3 * PEER_MESSAGE_BURST; i++) ann.mesh.sendChat(`line ${i}`);
  await settle(5);
  const got = bob.store.chat.value.map((m) => m.text);
  assert.ok(got.length > 0 && got.length <= PEER_MESSAGE_BURST, `${got.length} delivered`);
  assert.equal(got[0], "line 0", "the first messages get through");
  assert.equal(ann.store.chat.value.length, 3 * PEER_MESSAGE_BURST, "our own all show");
});

Deno.test("Mesh announces people who join after us, leaves, messages and hands — not those we find", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann");
  await settle();
  const bob = connect(hub, "Bob");
  await settle();
  const said = (client: Client) => client.store.announcements.value.map((a) => a.text);
  assert.deepEqual(said(ann), ["Bob joined"]);
  assert.deepEqual(said(bob), [], "Ann was already there: nothing to announce");

  bob.store.handRaised.value = true;
  bob.mesh.announceState();
  bob.mesh.sendChat("hi Ann");
  await settle();
  bob.mesh.announceState(); // the same state again says nothing new
  await settle();
  assert.deepEqual(said(ann), ["Bob joined", "Bob raised a hand", "Message from Bob: hi Ann"]);

  // Stats samples are not announced.
  await ann.mesh.sampleStats();
  assert.equal(said(ann).length, 3);

  bob.leave();
  await settle();
  assert.deepEqual(said(ann).at(-1), "Bob left");

  // Our own leaving announces nobody.
  const cid = connect(hub, "Cid");
  await settle();
  const before = said(ann).length;
  ann.mesh.closeAll();
  assert.equal(said(ann).length, before);
  cid.leave();
});
