import assert from "node:assert/strict";
import { type MeshSecurity, PEER_MESSAGE_BURST } from "../client/mesh.ts";
import { encodePeerMessage } from "../client/peer_message.ts";
import { PinnedCodes } from "../client/pinned_codes.ts";
import { VerifiedStore } from "../client/verified_store.ts";
import { FakeTextStorage } from "./_fake_storage.ts";
import { Hub } from "../lib/hub.ts";
import { fakeCertificate, FakeStream, FakeTrack, quiet } from "./_fake_rtc.ts";
import { sequentialIds } from "./_helpers.ts";
import { connect, deliver, MESH_NOW, type MeshClient, meshed } from "./_mesh.ts";
import { until } from "./_wait.ts";

/** The chat lines a client has, as text. */
function textsOf(client: MeshClient): string[] {
  return client.store.chat.value.map((m) => m.text);
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
  await meshed(clients);
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
      iceTransportPolicy: "all",
    });
  }
});

Deno.test("Mesh delivers chat with the sender's server-introduced name, never HTML", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  assert.equal(ann.mesh.sendChat("  <img src=x onerror=alert(1)>  "), true);
  assert.equal(ann.mesh.sendChat("   "), false);
  await until(() => bob.store.chat.value.length > 0, "Bob to receive Ann's message");
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
        MESH_NOW,
      ],
    ],
  );
});

Deno.test("Mesh shows a peer's mute and camera state from its data channel", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  ann.store.setMicOn(false);
  ann.mesh.announceState();
  await until(
    () => bob.store.participants.value.get(ann.id)?.micOn === false,
    "Bob to see Ann muted",
  );
  const seen = bob.store.participants.value.get(ann.id)!;
  assert.equal(seen.micOn, false);
  assert.equal(seen.camOn, true);
});

Deno.test("Mesh ignores malformed data channel messages", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
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
  await until(quiet, "the junk to be delivered");
  assert.deepEqual(bob.store.chat.value, []);
  assert.equal(bob.store.participants.value.get(ann.id)?.micOn, true);
  // Positive control: the same channel does deliver a well-formed message.
  ann.mesh.sendChat("real");
  await until(() => bob.store.chat.value.length > 0, "Bob to receive the real message");
  assert.deepEqual(textsOf(bob), ["real"]);
});

Deno.test("Mesh removes the tile and closes the connection on removePeer", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  const pc = ann.pcs[0];
  bob.leave();
  await until(() => ann.mesh.peerIds.length === 0, "Ann to hear that Bob left");
  assert.deepEqual(ann.mesh.peerIds, []);
  assert.equal(ann.store.participants.value.size, 0);
  assert.equal(pc.connectionState, "closed");
});

Deno.test("Mesh keeps a failed peer's tile, restarts ICE and says why it failed", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  ann.pcs[0].setConnectionState("failed");
  assert.equal(ann.pcs[0].iceRestarts, 1);
  const seen = ann.store.participants.value.get(bob.id)!;
  assert.equal(seen.connection, "failed");
  assert.match(seen.diagnosis?.summary ?? "", /could not connect to Bob/);
  assert.match(seen.diagnosis?.operatorHint ?? "", /TURN/);
  await until(quiet, "the ICE restart to renegotiate");
  assert.equal(ann.pcs[0].signalingState, "stable", "the restart renegotiated");
  ann.pcs[0].setConnectionState("connected");
  assert.equal(ann.store.participants.value.get(bob.id)?.diagnosis, null);
  assert.deepEqual(ann.mesh.peerIds, [bob.id], "same connection, same tile");
});

Deno.test("Mesh keeps the existing connection when addPeer repeats", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  const before = ann.mesh.peer(bob.id);
  assert.notEqual(before, undefined, "Ann is connected to Bob");
  deliver(ann.store, ann.mesh, {
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
  // Positive control: a third person in Ann's room does mesh with her.
  const cid = connect(hub, "Cid", "one");
  await meshed([ann, cid]);
  assert.deepEqual(ann.mesh.peerIds, [cid.id]);
  assert.deepEqual(cid.mesh.peerIds, [ann.id]);
  assert.deepEqual(bob.mesh.peerIds, []);
  assert.deepEqual(bob.store.participantList.value, []);
  assert.ok(!ann.mesh.peerIds.includes(bob.id));
});

Deno.test("Mesh closeAll closes every connection and empties the grid", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const clients = [connect(hub, "Ann"), connect(hub, "Bob"), connect(hub, "Cid")];
  const [ann] = clients;
  await meshed(clients);
  assert.equal(ann.pcs.length, 2);
  ann.mesh.closeAll();
  assert.equal(ann.store.participants.value.size, 0);
  assert.ok(ann.pcs.every((pc) => pc.connectionState === "closed"));
});

for (const sharer of ["Ann", "Bob"] as const) {
  Deno.test(`Mesh shows a screen share as a second stream and drops it when it ends (${sharer} shares)`, async () => {
    const hub = new Hub({ newId: sequentialIds() });
    const ann = connect(hub, "Ann");
    const bob = connect(hub, "Bob");
    await meshed([ann, bob]);
    const [from, to] = sharer === "Ann" ? [ann, bob] : [bob, ann];
    const track = new FakeTrack("video");
    const screen = new FakeStream([track]);
    from.store.setScreenShare(screen as unknown as MediaStream);
    from.mesh.announceState();
    await from.mesh.setTrack("screen", {
      kind: "screen",
      track: track as unknown as MediaStreamTrack,
      stream: screen as unknown as MediaStream,
    });
    await until(
      () => to.store.participants.value.get(from.id)?.screen != null,
      `${to.store.name.value} to see ${sharer}'s screen`,
    );
    await until(quiet, "the share to finish negotiating");
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

    from.store.setScreenShare(null);
    from.mesh.announceState();
    await from.mesh.setTrack("screen", null);
    await until(
      () => to.store.participants.value.get(from.id)?.screen === null,
      `${to.store.name.value} to drop ${sharer}'s screen`,
    );
    await until(quiet, "the removal to finish negotiating");
    assert.equal(to.store.participants.value.get(from.id)?.screen, null);
    assert.equal(from.pcs[0].senders.length, 2, "the screen sender was removed");
    assert.equal(from.pcs[0].signalingState, "stable");
  });
}

Deno.test("Mesh tells everyone about a raised hand", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  ann.store.toggleHand();
  ann.mesh.announceState();
  await until(
    () => bob.store.participants.value.get(ann.id)?.handRaised === true,
    "Bob to see Ann's hand",
  );
  assert.equal(bob.store.participants.value.get(ann.id)?.handRaised, true);
});

Deno.test("Mesh drops a peer's chat flood past its allowance, keeping the first messages", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob] = [connect(hub, "Ann"), connect(hub, "Bob")];
  await meshed([ann, bob]);
  for (let i = 0; i < 3 * PEER_MESSAGE_BURST; i++) ann.mesh.sendChat(`line ${i}`);
  await until(quiet, "every line of the flood to reach Bob's side");
  const got = textsOf(bob);
  assert.ok(got.length > 0 && got.length <= PEER_MESSAGE_BURST, `${got.length} delivered`);
  assert.equal(got[0], "line 0", "the first messages get through");
  assert.equal(ann.store.chat.value.length, 3 * PEER_MESSAGE_BURST, "our own all show");
});

Deno.test("Mesh announces people who join after us, leaves, messages and hands — not those we find", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const ann = connect(hub, "Ann");
  await until(() => ann.received.some((m) => m.event === "joined"), "Ann to join");
  const bob = connect(hub, "Bob");
  await meshed([ann, bob]);
  const said = (client: MeshClient) => client.store.announcements.value.map((a) => a.text);
  assert.deepEqual(said(ann), ["Bob joined"]);
  assert.deepEqual(said(bob), [], "Ann was already there: nothing to announce");

  bob.store.toggleHand();
  bob.mesh.announceState();
  bob.mesh.sendChat("hi Ann");
  await until(() => said(ann).length === 3, "Ann to hear of Bob's hand and message");
  bob.mesh.announceState(); // the same state again says nothing new
  await until(quiet, "Bob's repeated state to arrive");
  assert.deepEqual(said(ann), ["Bob joined", "Bob raised a hand", "Message from Bob: hi Ann"]);

  // Stats samples are not announced.
  await ann.monitor.sample();
  assert.equal(said(ann).length, 3);

  bob.leave();
  await until(() => said(ann).length === 4, "Ann to hear that Bob left");
  assert.deepEqual(said(ann).at(-1), "Bob left");

  // Our own leaving announces nobody.
  const cid = connect(hub, "Cid");
  await meshed([ann, cid]);
  const before = said(ann).length;
  ann.mesh.closeAll();
  assert.equal(said(ann).length, before);
  cid.leave();
});

Deno.test("Mesh after a resume keeps only the server's members and renegotiates a connection that never came up", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const [ann, bob, cid] = [connect(hub, "Ann"), connect(hub, "Bob"), connect(hub, "Cid")];
  await meshed([ann, bob, cid]);
  const toBob = ann.mesh.peer(bob.id);
  // Cid left while Ann was away (the removePeer was lost): the resume's list drops Cid only.
  ann.mesh.keepOnly([bob.id]);
  assert.deepEqual(ann.mesh.peerIds, [bob.id]);
  assert.equal(ann.mesh.peer(bob.id), toBob, "the connection to Bob stands");
  // Bob's connection is up: coming back changes nothing; one that is not restarts ICE.
  const pc = ann.pcs.find((p) => p.connectionState === "connected")!;
  const restarts = pc.iceRestarts;
  ann.mesh.renegotiate(bob.id);
  assert.equal(pc.iceRestarts, restarts, "a live connection is left alone");
  pc.setConnectionState("disconnected");
  const after = pc.iceRestarts;
  ann.mesh.renegotiate(bob.id);
  assert.equal(pc.iceRestarts, after + 1);
});

/** Security codes for a test client: its own certificate, storage and browser id. */
function securityFor(byte: number, browserId: string, storage = new FakeTextStorage()) {
  const pair = byte.toString(16).padStart(2, "0").toUpperCase();
  const certificate = fakeCertificate(`sha-256 ${`${pair}:`.repeat(31)}${pair}`);
  const security: MeshSecurity = {
    certificates: () => [certificate],
    pins: new PinnedCodes(storage),
    verified: new VerifiedStore(storage),
    browserId,
  };
  return { certificate, security, storage };
}

/** The security view `client` has of `other`. */
function securityOf(client: MeshClient, other: MeshClient) {
  return client.store.participants.value.get(other.id)!.security;
}

Deno.test("Mesh gives every connection our certificate and both sides the same security code", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const a = securityFor(0xa1, "browser-ann");
  const b = securityFor(0xb2, "browser-bob");
  const c = securityFor(0xc3, "browser-cid");
  const [ann, bob, cid] = [
    connect(hub, "Ann", "room", { security: a.security }),
    connect(hub, "Bob", "room", { security: b.security }),
    connect(hub, "Cid", "room", { security: c.security }),
  ];
  await meshed([ann, bob, cid]);
  const clients = [ann, bob, cid];
  await until(
    () =>
      clients.every((x) =>
        clients.every((y) =>
          x === y || securityOf(x, y).state === "code" && securityOf(x, y).canVerify
        )
      ),
    "every pair to have a code and a browser id",
  );
  for (const pc of ann.pcs) assert.deepEqual(pc.config.certificates, [a.certificate]);
  assert.equal(securityOf(ann, bob).code, securityOf(bob, ann).code);
  assert.equal(securityOf(ann, cid).code, securityOf(cid, ann).code);
  assert.equal(securityOf(bob, cid).code, securityOf(cid, bob).code);
  assert.equal(
    new Set([securityOf(ann, bob).code, securityOf(ann, cid).code, securityOf(bob, cid).code]).size,
    3,
  );
  assert.equal(securityOf(ann, bob).verified, "unverified");

  // Verified is remembered under Bob's browser id with this code.
  ann.mesh.setVerified(bob.id, securityOf(ann, bob).code);
  assert.equal(securityOf(ann, bob).verified, "verified");
  assert.equal(securityOf(ann, cid).verified, "unverified");
  assert.equal(
    new VerifiedStore(a.storage).status("browser-bob", securityOf(ann, bob).code!),
    "verified",
  );
  ann.mesh.setVerified(bob.id, null);
  assert.equal(securityOf(ann, bob).verified, "unverified");
  // None of the exchange reached the chat.
  assert.deepEqual(ann.store.chat.value, []);
});

Deno.test("Mesh shows a verified person whose certificate changed as changed, and never codes without security", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const a = securityFor(0xa1, "browser-ann");
  const b = securityFor(0xb2, "browser-bob");
  const ann = connect(hub, "Ann", "room", { security: a.security });
  const bob = connect(hub, "Bob", "room", { security: b.security });
  await meshed([ann, bob]);
  await until(
    () => securityOf(ann, bob).state === "code" && securityOf(ann, bob).canVerify,
    "a code",
  );
  ann.mesh.setVerified(bob.id, securityOf(ann, bob).code);
  const before = securityOf(ann, bob).code;
  bob.leave();
  await until(() => ann.store.participants.value.size === 0, "Bob to be gone");

  // Bob comes back from the same browser with a new certificate.
  const renewed = securityFor(0xb7, "browser-bob", b.storage);
  const back = connect(hub, "Bob", "room", { security: renewed.security });
  await meshed([ann, back]);
  await until(
    () => securityOf(ann, back).state === "code" && securityOf(ann, back).canVerify,
    "a new code",
  );
  assert.notEqual(securityOf(ann, back).code, before);
  assert.equal(securityOf(ann, back).verified, "changed");

  // Someone without security codes (an older client) gets none, and says nothing in the exchange.
  const old = connect(hub, "Old", "room");
  await meshed([ann, back, old]);
  await quiet();
  assert.equal(securityOf(old, ann).state, "pending");
  assert.equal(securityOf(old, ann).canVerify, false);
  // Ann waits for a commitment that never comes; closing stops her timer.
  assert.equal(securityOf(ann, old).state, "pending");
  for (const client of [ann, back, old]) client.mesh.closeAll();
});

Deno.test("Mesh warns about a verified person whose exchange fails, believes only their first browser id, and verifies only the code shown", async () => {
  const hub = new Hub({ newId: sequentialIds() });
  const a = securityFor(0xa1, "browser-ann");
  const b = securityFor(0xb2, "browser-bob");
  const ann = connect(hub, "Ann", "room", { security: a.security });
  const bob = connect(hub, "Bob", "room", { security: b.security });
  await meshed([ann, bob]);
  await until(
    () =>
      securityOf(ann, bob).state === "code" && securityOf(ann, bob).canVerify &&
      securityOf(bob, ann).state === "code",
    "a code on both sides",
  );
  const code = securityOf(ann, bob).code!;

  // "Mark as verified" verifies the code the dialog showed, and only while it is the current one.
  ann.mesh.setVerified(bob.id, "123451234512345");
  assert.equal(
    securityOf(ann, bob).verified,
    "unverified",
    "a code no longer shown is not verified",
  );
  ann.mesh.setVerified(bob.id, code);
  assert.equal(securityOf(ann, bob).verified, "verified");

  // A second browser id on the same connection is not believed.
  bob.mesh.broadcast(encodePeerMessage({ type: "browser", id: "browser-eve" }));
  await until(quiet, "the second browser id to be delivered");
  assert.equal(securityOf(ann, bob).verified, "verified");
  assert.equal(new VerifiedStore(a.storage).status("browser-bob", code), "verified");

  // Bob offered (the newcomer does; Ann, there first, is polite) and starts over and over
  // without revealing: Ann's rounds run out and her exchange fails. Bob, verified, then
  // shows the warning, not nothing.
  for (const byte of [1, 2, 3]) {
    const hash = byte.toString(16).padStart(2, "0").repeat(32);
    bob.mesh.broadcast(JSON.stringify({ type: "sas-commit", hash, pin: null }));
  }
  await until(quiet, "every commitment to be delivered");
  assert.equal(securityOf(ann, bob).state, "failed");
  assert.equal(securityOf(ann, bob).verified, "changed");
  // "Remove verification" still works.
  ann.mesh.setVerified(bob.id, null);
  assert.equal(securityOf(ann, bob).verified, "unverified");
  for (const client of [ann, bob]) client.mesh.closeAll();
});
