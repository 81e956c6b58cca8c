/**
 * Our microphone's level, read synchronously from a Web Audio analyser.
 * The monitor asks for it twice a second to tell whether we speak; an
 * audio sender's `getStats()` answers the same question, but makes the
 * browser gather the connection's whole stats each time, on a page whose
 * main thread should be idle in a steady call.
 *
 * @module
 */

/** The part of Web Audio a meter uses (a fake in tests). */
export interface MeterAudio {
  readonly state: AudioContextState;
  resume(): Promise<void>;
  close(): Promise<void>;
  createMediaStreamSource(
    stream: MediaStream,
  ): { connect(node: AnalyserNode): unknown; disconnect(): void };
  createAnalyser(): AnalyserNode;
}

/** Samples read per level: about 10 ms at 48 kHz, like the stats' own window. */
const WINDOW = 512;

/** Reads the level of one audio track at a time; makes its audio context on first use. */
export class AudioMeter {
  #createContext: () => MeterAudio;
  #streamOf: (track: MediaStreamTrack) => MediaStream;
  #context: MeterAudio | null = null;
  #source: { disconnect(): void } | null = null;
  #analyser: AnalyserNode | null = null;
  #track: MediaStreamTrack | null = null;
  #samples = new Float32Array(WINDOW);
  #failed = false;

  constructor(
    createContext: () => MeterAudio = () => new AudioContext(),
    streamOf: (track: MediaStreamTrack) => MediaStream = (track) => new MediaStream([track]),
  ) {
    this.#createContext = createContext;
    this.#streamOf = streamOf;
  }

  /**
   * The peak level of `track` now (0–1, as the stats' `audioLevel`), or
   * `null` where Web Audio cannot tell: none, not allowed to run yet, or
   * the track ended. Then the caller asks the stats.
   */
  level(track: MediaStreamTrack | null): number | null {
    if (this.#failed || track === null || track.readyState === "ended") return null;
    try {
      if (track !== this.#track) this.#attach(track);
      const context = this.#context!;
      if (context.state !== "running") {
        // Made before the page was clicked: it runs once the browser allows.
        if (context.state === "suspended") context.resume().catch(() => {});
        return null;
      }
      this.#analyser!.getFloatTimeDomainData(this.#samples);
    } catch {
      // No Web Audio here (or it refused this track): the stats answer.
      this.#failed = true;
      this.close();
      return null;
    }
    let peak = 0;
    for (const sample of this.#samples) peak = Math.max(peak, Math.abs(sample));
    return Math.min(1, peak);
  }

  #attach(track: MediaStreamTrack) {
    this.#source?.disconnect();
    this.#context ??= this.#createContext();
    const analyser = this.#analyser ??= this.#context.createAnalyser();
    analyser.fftSize = WINDOW;
    const source = this.#context.createMediaStreamSource(this.#streamOf(track));
    source.connect(analyser);
    this.#source = source;
    this.#track = track;
  }

  /** Lets the audio context go (leaving the call). */
  close(): void {
    this.#source?.disconnect();
    this.#context?.close().catch(() => {});
    this.#context = null;
    this.#source = null;
    this.#analyser = null;
    this.#track = null;
  }
}
