import assert from "node:assert/strict";
import { fakeCall } from "./_call.ts";
import { PinnedCodes } from "../client/pinned_codes.ts";
import { VerifiedStore } from "../client/verified_store.ts";
import { fakeCertificate, quiet } from "./_fake_rtc.ts";
import { FakeTextStorage } from "./_fake_storage.ts";
import { ManualTimers, until } from "./_wait.ts";

Deno.test("CallController joins with the typed name once the server welcomes it", async () => {
  const { store, call, saved, joinAs } = fakeCall();
  await call.media.startPreview();
  const socket = joinAs("  Ann  ");
  assert.equal(store.phase.value, "joining");
  assert.deepEqual(socket.frames(), [
    { event: "join", data: { channel: "room", userdata: { name: "Ann" } } },
  ]);
  assert.deepEqual(saved, ["Ann"]);
  assert.equal(store.selfId.value, "me");
  socket.serverSend("joined", { channel: "room", peers: [] });
  assert.equal(store.phase.value, "in-call");
});

Deno.test("CallController sends its camera and microphone to peers that arrive", async () => {
  const { call, pcs, joinAs, meetBob } = fakeCall();
  await call.media.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  await until(
    () => socket.frames().some((f) => f.event === "relaySessionDescription"),
    "the offer to Bob",
  );
  assert.deepEqual(pcs[0].senders.map((s) => s.kind).sort(), [
    "audio",
    "video",
  ]);
  assert.ok(
    socket.frames().some((f) => f.event === "relaySessionDescription" && f.data.peer_id === "bob"),
    "the offer went to Bob through the server",
  );
});

Deno.test("CallController sends a camera that started after Join to peers met meanwhile", async () => {
  const { call, pcs, joinAs, meetBob } = fakeCall();
  const preview = call.media.startPreview(); // Join is pressed before it resolves
  const socket = joinAs("Ann");
  meetBob(socket);
  assert.deepEqual(pcs[0].senders.map((s) => s.kind), [], "no tracks yet when Bob arrived");
  await preview;
  await until(() => pcs[0].senders.length === 2, "the late camera and microphone to reach Bob");
  assert.deepEqual(pcs[0].senders.map((s) => s.kind).sort(), ["audio", "video"]);
});

Deno.test("CallController explains a full room and returns to the pre-join screen", () => {
  const { store, sockets, joinAs } = fakeCall();
  const socket = joinAs("Ann");
  socket.serverSend("error", {
    code: "channel_full",
    message: "full",
    event: "join",
  });
  assert.equal(store.phase.value, "prejoin");
  assert.match(store.error.value ?? "", /This room is full/);
  assert.equal(sockets[0].closedWith, undefined, "the connection stays for the next try");
  assert.deepEqual(socket.frames().at(-1), { event: "door", data: { channel: "room" } });
});

Deno.test("CallController connects on the pre-join screen, asks the door, and joins at once", () => {
  const { store, call, sockets, welcome } = fakeCall();
  call.connect();
  call.connect();
  assert.equal(sockets.length, 1, "one connection");
  const socket = welcome();
  assert.equal(store.phase.value, "prejoin");
  assert.deepEqual(socket.frames(), [{ event: "door", data: { channel: "room" } }]);
  socket.serverSend("door", { channel: "room", door: "locked" });
  assert.equal(store.gate.value, "locked", "Ask to join, before anyone presses Join");
  socket.serverSend("door", { channel: "other", door: "password" });
  assert.equal(store.gate.value, "locked", "another room's door is not ours");
  socket.serverSend("door", { channel: "room", door: "password" });
  assert.equal(store.gate.value, "password", "the screen follows the door");
  socket.serverSend("door", { channel: "room", door: "open" });
  assert.equal(store.gate.value, null);
  call.join("Ann");
  assert.equal(store.phase.value, "joining");
  assert.deepEqual(socket.frames().at(-1), {
    event: "join",
    data: { channel: "room", userdata: { name: "Ann" } },
  });
  assert.equal(sockets.length, 1, "joined on the pre-join connection");
  socket.serverSend("joined", { channel: "room", peers: [] });
  assert.equal(store.phase.value, "in-call");
  assert.equal(store.selfId.value, "me");
});

Deno.test("CallController reconnects quietly after the server closed an idle pre-join connection", () => {
  const { store, call, sockets, welcome } = fakeCall();
  call.connect();
  const idle = welcome();
  idle.serverSend("door", { channel: "room", door: "locked" });
  idle.serverClose(1008, "join or resume within the timeout");
  assert.equal(store.error.value, null, "nothing to say");
  assert.equal(store.phase.value, "prejoin");
  assert.equal(store.gate.value, "locked", "what we knew of the door stays");
  assert.equal(sockets.length, 1, "not until the person comes back");
  call.connect();
  assert.equal(sockets.length, 2);
  const back = welcome("me2");
  assert.deepEqual(back.frames(), [{ event: "door", data: { channel: "room" } }]);
  // Join pressed as an idle connection closes: it joins on a new one.
  back.serverClose(1008, "join or resume within the timeout");
  call.join("Ann");
  const third = welcome("me3");
  assert.equal(third.frames()[0].event, "join");
  assert.equal(store.error.value, null);
  // Positive control: another policy close while joining is a failure.
  third.serverClose(1008, "rate limit exceeded");
  assert.match(store.error.value ?? "", /The server closed the connection/);
});

Deno.test("CallController explains an unreachable server", () => {
  const { store, call, sockets } = fakeCall();
  call.join("Ann");
  sockets[0].serverClose(1006);
  assert.equal(store.phase.value, "prejoin");
  assert.match(store.error.value ?? "", /Cannot reach the server/);
});

Deno.test("CallController keeps the calls when the signaling socket drops mid-call", async () => {
  const { store, call, pcs, joinAs, meetBob } = fakeCall();
  await call.media.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  socket.serverClose(1006);
  assert.equal(store.phase.value, "in-call");
  assert.equal(store.participants.value.size, 1);
  assert.notEqual(pcs[0].connectionState, "closed");
  assert.match(store.notice.value ?? "", /Lost the connection to the server/);
});

Deno.test("CallController turns a denied camera into words and joins receive-only", async () => {
  const { store, call, pcs, joinAs, meetBob } = fakeCall({ deny: "NotAllowedError" });
  await call.media.startPreview();
  assert.match(store.mediaError.value ?? "", /denied/);
  assert.equal(store.micOn.value, false);
  assert.equal(store.camOn.value, false);
  const socket = joinAs("Viewer");
  meetBob(socket);
  await until(
    () => socket.frames().some((f) => f.event === "relaySessionDescription"),
    "the offer to Bob",
  );
  await until(quiet, "the negotiation with Bob to settle");
  assert.deepEqual(pcs[0].senders, []);
  assert.equal(
    pcs[0].channels.length,
    1,
    "the data channel still starts the call",
  );
});

Deno.test("CallController leave parts the room, closes the socket and peers", async () => {
  const { store, call, pcs, joinAs, meetBob } = fakeCall();
  await call.media.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  call.leave();
  assert.deepEqual(socket.frames().filter((f) => f.event === "part"), [
    { event: "part", data: { channel: "room" } },
  ]);
  assert.equal(socket.closedWith, 1000);
  assert.equal(pcs[0].connectionState, "closed");
  assert.equal(store.phase.value, "prejoin");
  assert.equal(store.participants.value.size, 0);
  assert.equal(
    store.notice.value,
    null,
    "a deliberate close is not a lost connection",
  );
});

Deno.test("CallController raising a hand updates the store", () => {
  const { store, call } = fakeCall();
  call.toggleHand();
  assert.equal(store.handRaised.value, true);
  call.toggleHand();
  assert.equal(store.handRaised.value, false);
});

Deno.test("CallController keeps its peer connections and tiles across a signaling drop", async () => {
  const timers = new ManualTimers();
  const { store, call, sockets, pcs, welcome, meetEveryone } = fakeCall({
    deps: { timers, random: () => 0.5 },
  });
  await meetEveryone({ token: "t" });
  const tiles = store.participants.value;
  const peer = call.mesh!.peer("bob");

  sockets[0].serverClose(1006);
  assert.equal(store.linkStatus.value, "reconnecting");
  assert.equal(store.phase.value, "in-call");
  timers.fire();
  welcome("temp");
  sockets[1].serverSend("resumed", { peer_id: "me", channels: ["room"] });
  // After a restart the server reintroduces Bob: the existing call stays.
  sockets[1].serverSend("addPeer", {
    peer_id: "bob",
    should_create_offer: false,
    polite: true,
    userdata: { name: "Bob" },
  });
  assert.equal(store.linkStatus.value, "connected");
  assert.equal(call.mesh!.peer("bob"), peer, "same RTCPeerConnection, roles unchanged");
  assert.equal(pcs.length, 1);
  assert.equal(store.participants.value.get("bob"), tiles.get("bob"), "the tile never changed");
  assert.notEqual(pcs[0].connectionState, "closed");
});

Deno.test("CallController drops peers a restarted server never reintroduces", async () => {
  const timers = new ManualTimers();
  const { store, sockets, welcome, introduce, meetEveryone } = fakeCall({
    deps: { timers, random: () => 0.5 },
  });
  const first = await meetEveryone({ token: "t", others: [["cid", "Cid"]] });
  first.serverClose(1006);
  timers.fire(); // reconnect
  const second = welcome("temp");
  second.serverSend("resumed", { peer_id: "me", channels: ["room"], restored: true });
  // Bob comes back; Cid closed their tab while the server was down.
  introduce(second, "bob", "Bob", false);
  assert.deepEqual([...store.participants.value.keys()].sort(), ["bob", "cid"]);
  assert.equal(timers.fire(), 30_000, "the server's 25 s window plus a margin");
  assert.deepEqual([...store.participants.value.keys()], ["bob"]);
  assert.equal(sockets.length, 2);
});

Deno.test("CallController on a network change restarts ICE only where connections suffer", async () => {
  const { call, pcs, meetEveryone } = fakeCall();
  await meetEveryone({ token: "t", others: [["cid", "Cid"]] });
  pcs[0].setConnectionState("connected");
  pcs[1].setConnectionState("disconnected");
  call.networkChanged();
  assert.equal(pcs[0].iceRestarts, 0, "a healthy connection is left alone");
  assert.equal(pcs[1].iceRestarts, 1);
  call.leave();
});

Deno.test("CallController runs each connection's ICE-restart wait on the injected timers", async () => {
  const timers = new ManualTimers();
  const { pcs, meetEveryone } = fakeCall({ deps: { timers } });
  await meetEveryone();
  assert.equal(timers.pending.size, 0);
  pcs[0].setConnectionState("disconnected");
  assert.equal(timers.fire(), 4000, "the wait before restarting ICE");
  assert.equal(pcs[0].iceRestarts, 1);
});

Deno.test("CallController at a locked room knocks on the same connection and is let in", () => {
  const { store, call, sockets, joinAs } = fakeCall({ deps: { browserId: "b1" } });
  const first = joinAs("Ann");
  assert.deepEqual(first.frames()[0].data.browser, "b1", "the browser id goes with the join");
  first.serverSend("error", { code: "room_locked", message: "locked", event: "join" });
  assert.equal(store.phase.value, "prejoin");
  assert.equal(store.gate.value, "locked");
  assert.equal(store.error.value, null, "a locked room is a door, not a failure");
  assert.equal(first.closedWith, undefined);

  call.join("Ann", { knock: true });
  const second = first;
  assert.deepEqual(second.frames().slice(-2), [
    { event: "door", data: { channel: "room", browser: "b1" } },
    { event: "knock", data: { channel: "room", userdata: { name: "Ann" }, browser: "b1" } },
  ]);
  second.serverSend("knocking", { channel: "room" });
  assert.equal(store.gate.value, "knocking");
  assert.equal(store.phase.value, "joining");
  second.serverSend("joined", { channel: "room", peers: [] });
  assert.equal(store.phase.value, "in-call");
  assert.equal(store.gate.value, null);
  assert.equal(sockets.length, 1);
});

Deno.test("CallController told it was denied or removed goes back to the pre-join screen, saying so", () => {
  const denied = fakeCall();
  denied.call.join("Ann", { knock: true });
  const door = denied.welcome();
  door.serverSend("knocking", { channel: "room" });
  door.serverSend("denied", { channel: "room" });
  assert.equal(denied.store.phase.value, "prejoin");
  assert.match(denied.store.error.value ?? "", /A host did not let you in/);
  assert.equal(denied.store.gate.value, null);

  const removed = fakeCall();
  const socket = removed.joinAs("Ann");
  socket.serverSend("joined", { channel: "room", peers: [] });
  socket.serverSend("removed", { channel: "room" });
  socket.serverClose(4003);
  assert.equal(removed.store.phase.value, "prejoin");
  assert.equal(removed.store.error.value, "You were removed from the room.");
  assert.equal(removed.sockets.length, 1, "no reconnect after a removal");
});

Deno.test("CallController asks for a password, sends it, and says when it is wrong", () => {
  const { store, call, joinAs } = fakeCall();
  const first = joinAs("Ann");
  first.serverSend("error", { code: "password_required", message: "pw", event: "join" });
  assert.equal(store.gate.value, "password");
  assert.equal(store.error.value, null);
  store.setPassword("nope");
  call.join("Ann");
  const second = first;
  assert.equal(second.frames().at(-1).data.password, "nope");
  second.serverSend("error", { code: "wrong_password", message: "wrong", event: "join" });
  assert.equal(store.gate.value, "password");
  assert.match(store.error.value ?? "", /password is not right/);
  // Too many wrong passwords were tried (here or for the room): knocking is the way in.
  call.join("Ann");
  const third = first;
  third.serverSend("error", { code: "rate_limited", message: "many", event: "join" });
  assert.equal(store.gate.value, "busy");
  assert.match(store.error.value ?? "", /Too many attempts to enter this room.*ask a host/);
  third.serverSend("door", { channel: "room", door: "password" });
  assert.equal(store.gate.value, "busy", "still knocking: the password is refused for now");
  call.join("Ann", { knock: true });
  const fourth = first;
  assert.equal(fourth.frames().at(-1).event, "knock");
});

Deno.test("CallController follows the room's hosts and requests, and mutes when a host asks", async () => {
  const { store, call, joinAs } = fakeCall();
  await call.media.startPreview();
  const socket = joinAs("Ann");
  socket.serverSend("joined", { channel: "room", peers: [] });
  socket.serverSend("roomState", {
    channel: "room",
    hosts: ["me"],
    locked: false,
    password: false,
  });
  assert.equal(store.isHost.value, true);
  socket.serverSend("roomState", { channel: "other", hosts: [], locked: true, password: true });
  assert.equal(store.authority.value?.locked, false, "another room's state is not ours");
  socket.serverSend("knocks", { channel: "room", knocks: [{ peer_id: "k1", name: "Kim" }] });
  assert.deepEqual(store.knocks.value, [{ id: "k1", name: "Kim" }]);
  assert.equal(store.announcements.value.at(-1)?.text, "Kim asks to join");

  call.hostAction("admit", "k1");
  call.lockRoom(true);
  call.setRoomPassword("pw");
  assert.deepEqual(socket.frames().slice(-3), [
    { event: "admit", data: { channel: "room", peer_id: "k1" } },
    { event: "lock", data: { channel: "room", locked: true } },
    { event: "setPassword", data: { channel: "room", password: "pw" } },
  ]);

  // Removing someone from an unlocked room offers to lock it.
  call.removeFromRoom("bob", "Bob");
  assert.deepEqual(socket.frames().at(-1), {
    event: "remove",
    data: { channel: "room", peer_id: "bob" },
  });
  assert.equal(store.lockOffer.value, "Bob");

  socket.serverSend("muted", { channel: "room", by: "me" });
  await until(() => !store.micOn.value, "the microphone to mute");
  assert.match(store.notice.value ?? "", /A host muted your microphone/);

  // A host is warned when many wrong passwords were tried (another room's warning is not ours).
  socket.serverSend("roomAlert", { channel: "elsewhere", alert: "wrong_passwords" });
  assert.doesNotMatch(store.notice.value ?? "", /wrong passwords/);
  socket.serverSend("roomAlert", { channel: "room", alert: "wrong_passwords" });
  assert.match(store.notice.value ?? "", /^Many wrong passwords were tried for this room/);
});

Deno.test("CallController opens a dropped pre-join connection afresh instead of resuming it", () => {
  const { store, call, sockets, welcome } = fakeCall();
  call.connect();
  const first = welcome("me", "token-1");
  first.serverClose(1006);
  assert.equal(store.error.value, null);
  assert.equal(sockets.length, 1, "no resume of a connection that was in no room");
  call.join("Ann");
  assert.equal(sockets.length, 2);
  const second = welcome("me2");
  assert.deepEqual(second.frames().map((f) => f.event), ["join"]);
  // Positive control: a server that cannot be reached is said when joining.
  second.serverClose(1006);
  assert.equal(store.phase.value, "prejoin");
});

Deno.test("CallController joins only once its certificate is loaded, and uses it for every connection", async () => {
  let loaded!: (value: { certificate: RTCCertificate | null; persistent: boolean }) => void;
  const certificate = fakeCertificate("sha-256 " + "AB:".repeat(31) + "AB");
  const storage = new FakeTextStorage();
  const { store, pcs, joinAs, meetBob } = fakeCall({
    deps: {
      security: {
        certificate: () => new Promise((resolve) => loaded = resolve),
        pins: new PinnedCodes(storage),
        verified: new VerifiedStore(storage),
        browserId: "label",
      },
    },
  });
  const socket = joinAs("Ann");
  await quiet();
  assert.deepEqual(socket.frames(), [], "no join before the certificate");
  assert.equal(store.certificatePersistent.value, null);
  loaded({ certificate, persistent: false });
  await until(() => socket.frames().length === 1, "the join once the certificate is there");
  assert.equal(socket.frames()[0].event, "join");
  assert.equal(store.certificatePersistent.value, false, "the dialog says codes change");
  meetBob(socket);
  assert.deepEqual(pcs[0].config.certificates, [certificate]);
});
