import assert from "node:assert/strict";
import { fakeCall } from "./_call.ts";
import { FakeStream, FakeTrack, quiet } from "./_fake_rtc.ts";
import { until } from "./_wait.ts";

/** A screen to share: the positive control that a new track makes an offer. */
const screenToShare = {
  getDisplayMedia: () =>
    Promise.resolve(new FakeStream([new FakeTrack("video")]) as unknown as MediaStream),
};

Deno.test("LocalMedia camera off stops the track; on again swaps a new one in without renegotiating", async () => {
  const { store, call, pcs, requests, meetEveryone, bobAnswers } = fakeCall({
    deps: screenToShare,
  });
  await bobAnswers(await meetEveryone());
  const video = pcs[0].senders.find((s) => s.kind === "video")!;
  const firstTrack = video.track!;
  const offers = pcs[0].offersMade;
  await call.media.toggleCamera();
  assert.equal(store.camOn.value, false);
  assert.equal(firstTrack.readyState, "ended", "the camera light goes off");
  assert.equal(video.track, null);
  assert.equal(store.localStream.value?.getVideoTracks().length, 0);
  await call.media.toggleCamera();
  assert.equal(store.camOn.value, true);
  assert.deepEqual(requests.at(-1), {
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  assert.notEqual(video.track, null);
  assert.notEqual(video.track, firstTrack);
  await until(quiet, "any renegotiation to happen");
  assert.equal(pcs[0].offersMade, offers, "replaceTrack needs no new offer");
  // Positive control: in this state a new track does make an offer.
  await call.media.toggleScreenShare();
  await until(() => pcs[0].offersMade === offers + 1, "an offer for the screen share");
});

Deno.test("LocalMedia mute in a call disables the audio track, keeping it", async () => {
  const { store, call } = fakeCall();
  await call.media.startPreview();
  store.setPhase("in-call");
  const track = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  await call.media.toggleMic();
  assert.equal(store.micOn.value, false);
  assert.equal(track.enabled, false);
  await call.media.toggleMic();
  assert.equal(track.enabled, true);
});

Deno.test("LocalMedia shares the screen and stops when the browser's bar ends it", async () => {
  const screenTrack = new FakeTrack("video");
  const { store, call, pcs, joinAs, meetBob } = fakeCall({
    deps: {
      getDisplayMedia: () =>
        Promise.resolve(new FakeStream([screenTrack]) as unknown as MediaStream),
    },
  });
  await call.media.startPreview();
  meetBob(joinAs("Ann"));
  await call.media.toggleScreenShare();
  assert.notEqual(store.screenStream.value, null);
  assert.equal(screenTrack.contentHint, "detail");
  assert.ok(pcs[0].senders.some((s) => s.track === screenTrack), "sent to Bob");
  screenTrack.end(); // the browser's "Stop sharing" button
  await until(
    () => !pcs[0].senders.some((s) => s.track === screenTrack),
    "the screen sender to be removed",
  );
  assert.equal(store.screenStream.value, null);
  assert.ok(!pcs[0].senders.some((s) => s.track === screenTrack));
});

Deno.test("LocalMedia switches the camera with replaceTrack and no renegotiation", async () => {
  const { store, call, pcs, requests, meetEveryone, bobAnswers } = fakeCall({
    deps: screenToShare,
  });
  await bobAnswers(await meetEveryone());
  const sender = pcs[0].senders.find((s) => s.kind === "video")!;
  const old = sender.track!;
  const offers = pcs[0].offersMade;
  await call.media.selectDevice("videoinput", "cam-2");
  assert.deepEqual(requests.at(-1), {
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, deviceId: { exact: "cam-2" } },
  });
  assert.equal(old.readyState, "ended");
  assert.notEqual(sender.track, old);
  assert.equal(sender.replaced, 1);
  assert.equal(store.selectedDevices.value.videoinput, "cam-2");
  await until(quiet, "any renegotiation to happen");
  assert.equal(pcs[0].offersMade, offers);
  // Positive control: in this state a new track does make an offer.
  await call.media.toggleScreenShare();
  await until(() => pcs[0].offersMade === offers + 1, "an offer for the screen share");
});

Deno.test("LocalMedia lists devices and falls back to the default when one is unplugged", async () => {
  let devices = [
    { kind: "videoinput", deviceId: "cam-1", label: "Front" },
    { kind: "videoinput", deviceId: "cam-2", label: "" },
    { kind: "audioinput", deviceId: "mic-1", label: "Mic" },
    { kind: "audiooutput", deviceId: "spk-1", label: "Speaker" },
  ];
  const { store, call, requests } = fakeCall({
    deps: { enumerateDevices: () => Promise.resolve(devices as unknown as MediaDeviceInfo[]) },
  });
  await call.media.startPreview();
  assert.deepEqual(store.devices.value.videoinput, [
    { id: "cam-1", label: "Front" },
    { id: "cam-2", label: "Camera 2" },
  ]);
  await call.media.selectDevice("videoinput", "cam-2");
  await call.media.selectDevice("audiooutput", "spk-1");
  devices = devices.filter((d) => d.deviceId !== "cam-2" && d.deviceId !== "spk-1");
  await call.media.refreshDevices();
  assert.deepEqual(store.selectedDevices.value, {
    videoinput: "",
    audioinput: "",
    audiooutput: "",
  });
  assert.deepEqual(requests.at(-1), { video: { width: { ideal: 1280 }, height: { ideal: 720 } } });
  assert.equal(store.camOn.value, true);
});

Deno.test("LocalMedia turning the microphone off before joining releases it", async () => {
  const { store, call, pcs, joinAs, meetBob } = fakeCall();
  await call.media.startPreview();
  const mic = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  await call.media.toggleMic();
  assert.equal(mic.readyState, "ended");
  assert.equal(store.micOn.value, false);
  const socket = joinAs("Ann");
  meetBob(socket);
  await until(() => pcs[0]?.offersMade === 1, "the offer to Bob");
  await until(quiet, "the negotiation with Bob to settle");
  assert.deepEqual(pcs[0].senders.map((s) => s.kind), ["video"]);
  await call.media.toggleMic();
  await until(() => pcs[0].senders.length === 2, "the new microphone to reach Bob");
  assert.equal(store.micOn.value, true);
  assert.deepEqual(pcs[0].senders.map((s) => s.kind).sort(), ["audio", "video"]);
});

Deno.test("LocalMedia unmutes a microphone muted in the last call from the pre-join screen", async () => {
  const { store, call, joinAs, meetBob } = fakeCall();
  await call.media.startPreview();
  meetBob(joinAs("Ann"));
  await call.media.toggleMic(); // muted in the call: the track stays, disabled
  call.leave();
  assert.equal(store.phase.value, "prejoin");
  const track = (store.localStream.value as unknown as FakeStream).getAudioTracks()[0];
  assert.equal(track.enabled, false);
  await call.media.toggleMic();
  assert.equal(track.enabled, true, "turned back on, not released");
  assert.equal(store.micOn.value, true);
});
