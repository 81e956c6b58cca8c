import assert from "node:assert/strict";
import { AudioMeter, type MeterAudio } from "../client/audio_meter.ts";

/** A Web Audio context whose analyser hands out `samples`. */
class FakeAudio implements MeterAudio {
  state: AudioContextState = "running";
  samples: number[] = [];
  resumes = 0;
  closed = false;
  sources: MediaStream[] = [];
  disconnects = 0;
  refuse = false;
  resume() {
    this.resumes++;
    return Promise.resolve();
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
  createMediaStreamSource(stream: MediaStream) {
    if (this.refuse) throw new DOMException("no audio track", "InvalidStateError");
    this.sources.push(stream);
    return { connect: () => {}, disconnect: () => void this.disconnects++ };
  }
  createAnalyser() {
    return {
      fftSize: 0,
      getFloatTimeDomainData: (out: Float32Array) => {
        out.fill(0);
        out.set(this.samples.slice(0, out.length));
      },
    } as unknown as AnalyserNode;
  }
}

const track = (id: string) => ({ id, readyState: "live" }) as unknown as MediaStreamTrack;
const streamOf = (t: MediaStreamTrack) => ({ id: t.id }) as unknown as MediaStream;

Deno.test("AudioMeter reads the track's peak level from an analyser, one context for every track", () => {
  const audio = new FakeAudio();
  let contexts = 0;
  const meter = new AudioMeter(() => (contexts++, audio), streamOf);
  const mic = track("mic");
  assert.equal(meter.level(mic), 0, "silence");
  audio.samples = [0.1, -0.4, 0.2];
  assert.equal(Math.round(meter.level(mic)! * 100) / 100, 0.4, "the peak, either sign");
  assert.equal(audio.sources.length, 1, "the same track keeps its source");
  const headset = track("headset");
  meter.level(headset);
  assert.equal(audio.sources.length, 2, "a new track (another microphone) gets a new source");
  assert.equal(audio.disconnects, 1, "and the old one is let go");
  assert.equal(contexts, 1);
  meter.close();
  assert.ok(audio.closed);
});

Deno.test("AudioMeter says null where Web Audio cannot tell, so the stats answer", () => {
  const audio = new FakeAudio();
  const meter = new AudioMeter(() => audio, streamOf);
  assert.equal(meter.level(null), null, "no microphone");
  assert.equal(
    meter.level({ id: "x", readyState: "ended" } as unknown as MediaStreamTrack),
    null,
    "an ended track",
  );
  audio.state = "suspended";
  assert.equal(meter.level(track("mic")), null, "not allowed to run yet");
  assert.equal(audio.resumes, 1, "asks to run");
  audio.state = "running";
  audio.samples = [0.5];
  assert.equal(meter.level(track("mic")), 0.5);

  const refusing = new FakeAudio();
  refusing.refuse = true;
  const broken = new AudioMeter(() => refusing, streamOf);
  assert.equal(broken.level(track("mic")), null, "a track Web Audio refuses");
  refusing.refuse = false;
  assert.equal(broken.level(track("mic")), null, "and it does not try again on every tick");
});
