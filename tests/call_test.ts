import assert from "node:assert/strict";
import { describeMediaError } from "../client/call.ts";
import { FakeStream, FakeTrack, settle } from "./_fake_rtc.ts";
import { fakeCall } from "./_call.ts";

const setup = fakeCall;

Deno.test("CallController joins with the typed name once the server welcomes it", async () => {
  const { store, call, saved, joinAs } = setup();
  await call.startPreview();
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
  const { call, pcs, joinAs, meetBob } = setup();
  await call.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  await settle(5);
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
  const { call, pcs, joinAs, meetBob } = setup();
  const preview = call.startPreview(); // Join is pressed before it resolves
  const socket = joinAs("Ann");
  meetBob(socket);
  assert.deepEqual(pcs[0].senders.map((s) => s.kind), [], "no tracks yet when Bob arrived");
  await preview;
  await settle(5);
  assert.deepEqual(pcs[0].senders.map((s) => s.kind).sort(), ["audio", "video"]);
});

Deno.test("CallController explains a full room and returns to the pre-join screen", () => {
  const { store, sockets, joinAs } = setup();
  const socket = joinAs("Ann");
  socket.serverSend("error", {
    code: "channel_full",
    message: "full",
    event: "join",
  });
  assert.equal(store.phase.value, "prejoin");
  assert.match(store.error.value ?? "", /This room is full/);
  assert.equal(sockets[0].closedWith, 1000);
});

Deno.test("CallController explains an unreachable server", () => {
  const { store, call, sockets } = setup();
  call.join("Ann");
  sockets[0].serverClose(1006);
  assert.equal(store.phase.value, "prejoin");
  assert.match(store.error.value ?? "", /Cannot reach the server/);
});

Deno.test("CallController keeps the calls when the signaling socket drops mid-call", async () => {
  const { store, call, pcs, joinAs, meetBob } = setup();
  await call.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  socket.serverClose(1006);
  assert.equal(store.phase.value, "in-call");
  assert.equal(store.participants.value.size, 1);
  assert.notEqual(pcs[0].connectionState, "closed");
  assert.match(store.notice.value ?? "", /Lost the connection to the server/);
});

Deno.test("CallController turns a denied camera into words and joins receive-only", async () => {
  const { store, call, pcs, joinAs, meetBob } = setup({ deny: "NotAllowedError" });
  await call.startPreview();
  assert.match(store.mediaError.value ?? "", /denied/);
  assert.equal(store.micOn.value, false);
  assert.equal(store.camOn.value, false);
  const socket = joinAs("Viewer");
  meetBob(socket);
  await settle(5);
  assert.deepEqual(pcs[0].senders, []);
  assert.equal(
    pcs[0].channels.length,
    1,
    "the data channel still starts the call",
  );
});

Deno.test("describeMediaError covers missing and busy devices", () => {
  assert.match(
    describeMediaError(new DOMException("x", "NotFoundError")),
    /No camera or microphone/,
  );
  assert.match(
    describeMediaError(new DOMException("x", "NotReadableError")),
    /in use/,
  );
  assert.match(describeMediaError("weird"), /unavailable/);
});

Deno.test("CallController camera off stops the track; on again swaps a new one in without renegotiating", async () => {
  const { store, call, pcs, requests, joinAs, meetBob } = setup();
  await call.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  await settle(5);
  const video = pcs[0].senders.find((s) => s.kind === "video")!;
  const firstTrack = video.track!;
  const offers = pcs[0].offersMade;
  await call.toggleCamera();
  assert.equal(store.camOn.value, false);
  assert.equal(firstTrack.readyState, "ended", "the camera light goes off");
  assert.equal(video.track, null);
  assert.equal(store.localStream.value?.getVideoTracks().length, 0);
  await call.toggleCamera();
  assert.equal(store.camOn.value, true);
  assert.deepEqual(requests.at(-1), {
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  assert.notEqual(video.track, null);
  assert.notEqual(video.track, firstTrack);
  await settle(5);
  assert.equal(pcs[0].offersMade, offers, "replaceTrack needs no new offer");
});

Deno.test("CallController mute in a call disables the audio track, keeping it", async () => {
  const { store, call } = setup();
  await call.startPreview();
  store.setPhase("in-call");
  const track = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  await call.toggleMic();
  assert.equal(store.micOn.value, false);
  assert.equal(track.enabled, false);
  await call.toggleMic();
  assert.equal(track.enabled, true);
});

Deno.test("CallController leave parts the room, closes the socket and peers", async () => {
  const { store, call, pcs, joinAs, meetBob } = setup();
  await call.startPreview();
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

Deno.test("CallController shares the screen and stops when the browser's bar ends it", async () => {
  const screenTrack = new FakeTrack("video");
  const { store, call, pcs, joinAs, meetBob } = setup({
    deps: {
      getDisplayMedia: () =>
        Promise.resolve(new FakeStream([screenTrack]) as unknown as MediaStream),
    },
  });
  await call.startPreview();
  meetBob(joinAs("Ann"));
  await call.toggleScreenShare();
  assert.notEqual(store.screenStream.value, null);
  assert.equal(screenTrack.contentHint, "detail");
  assert.ok(pcs[0].senders.some((s) => s.track === screenTrack), "sent to Bob");
  screenTrack.end(); // the browser's "Stop sharing" button
  await settle(5);
  assert.equal(store.screenStream.value, null);
  assert.ok(!pcs[0].senders.some((s) => s.track === screenTrack));
});

Deno.test("CallController switches the camera with replaceTrack and no renegotiation", async () => {
  const { store, call, pcs, requests, joinAs, meetBob } = setup();
  await call.startPreview();
  const socket = joinAs("Ann");
  meetBob(socket);
  await settle();
  const sender = pcs[0].senders.find((s) => s.kind === "video")!;
  const old = sender.track!;
  const offers = pcs[0].offersMade;
  await call.selectDevice("videoinput", "cam-2");
  assert.deepEqual(requests.at(-1), {
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, deviceId: { exact: "cam-2" } },
  });
  assert.equal(old.readyState, "ended");
  assert.notEqual(sender.track, old);
  assert.equal(sender.replaced, 1);
  assert.equal(store.selectedDevices.value.videoinput, "cam-2");
  await settle();
  assert.equal(pcs[0].offersMade, offers);
});

Deno.test("CallController lists devices and falls back to the default when one is unplugged", async () => {
  let devices = [
    { kind: "videoinput", deviceId: "cam-1", label: "Front" },
    { kind: "videoinput", deviceId: "cam-2", label: "" },
    { kind: "audioinput", deviceId: "mic-1", label: "Mic" },
    { kind: "audiooutput", deviceId: "spk-1", label: "Speaker" },
  ];
  const { store, call, requests } = setup({
    deps: { enumerateDevices: () => Promise.resolve(devices as unknown as MediaDeviceInfo[]) },
  });
  await call.startPreview();
  assert.deepEqual(store.devices.value.videoinput, [
    { id: "cam-1", label: "Front" },
    { id: "cam-2", label: "Camera 2" },
  ]);
  await call.selectDevice("videoinput", "cam-2");
  await call.selectDevice("audiooutput", "spk-1");
  devices = devices.filter((d) => d.deviceId !== "cam-2" && d.deviceId !== "spk-1");
  await call.refreshDevices();
  assert.deepEqual(store.selectedDevices.value, {
    videoinput: "",
    audioinput: "",
    audiooutput: "",
  });
  assert.deepEqual(requests.at(-1), { video: { width: { ideal: 1280 }, height: { ideal: 720 } } });
  assert.equal(store.camOn.value, true);
});

Deno.test("CallController turning the microphone off before joining releases it", async () => {
  const { store, call, pcs, joinAs, meetBob } = setup();
  await call.startPreview();
  const mic = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  await call.toggleMic();
  assert.equal(mic.readyState, "ended");
  assert.equal(store.micOn.value, false);
  const socket = joinAs("Ann");
  meetBob(socket);
  await settle();
  assert.deepEqual(pcs[0].senders.map((s) => s.kind), ["video"]);
  await call.toggleMic();
  await settle();
  assert.equal(store.micOn.value, true);
  assert.deepEqual(pcs[0].senders.map((s) => s.kind).sort(), ["audio", "video"]);
});

Deno.test("CallController raising a hand updates the store", () => {
  const { store, call } = setup();
  call.toggleHand();
  assert.equal(store.handRaised.value, true);
  call.toggleHand();
  assert.equal(store.handRaised.value, false);
});

Deno.test("CallController unmutes a microphone muted in the last call from the pre-join screen", async () => {
  const { store, call, joinAs, meetBob } = setup();
  await call.startPreview();
  meetBob(joinAs("Ann"));
  await call.toggleMic(); // muted in the call: the track stays, disabled
  call.leave();
  assert.equal(store.phase.value, "prejoin");
  const track = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  assert.equal(track.enabled, false);
  await call.toggleMic();
  assert.equal(track.enabled, true, "turned back on, not released");
  assert.equal(store.micOn.value, true);
});
