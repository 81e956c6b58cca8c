/**
 * The in-page half of the client benchmark: an init script that watches a
 * page from outside its code — the Join click, `getUserMedia`, the first
 * frame of every remote video track and, when asked, a timeline of the
 * join (WebSocket frames, RTCPeerConnection calls and states) — so our
 * client and the baseline are measured by the same instrument, and neither
 * is changed for it.
 *
 * @module
 */

/** One moment of a join, in epoch ms (`performance.timeOrigin + now()`). */
export interface ProbeEvent {
  at: number;
  what: string;
}

/** What the probe recorded in a page so far. */
export interface ProbeRecord {
  /** When the first click after the page loaded landed (the Join click). */
  clickAt: number | null;
  /** When the camera stream arrived. */
  gumAt: number | null;
  /** Remote video track id → when its first frame was presented. */
  frames: Record<string, number>;
  /** Only with `timeline: true`. */
  events: ProbeEvent[];
  /** Calls of `RTCPeerConnection.getStats` so far. */
  getStatsCalls: number;
}

/** Options of {@linkcode installProbe}. */
export interface ProbeOptions {
  /** Record WebSocket frames and peer-connection steps too. Default false. */
  timeline: boolean;
}

/**
 * The init script: runs in the page before any of its scripts. Self-contained
 * (Playwright sends its source), so no imports or outer names inside.
 */
export function installProbe({ timeline }: ProbeOptions): void {
  const now = () => performance.timeOrigin + performance.now();
  const record: ProbeRecord = {
    clickAt: null,
    gumAt: null,
    frames: {},
    events: [],
    getStatsCalls: 0,
  };
  (globalThis as unknown as { __probe: ProbeRecord }).__probe = record;
  const note = (what: string) => {
    if (timeline && record.events.length < 2000) record.events.push({ at: now(), what });
  };

  if (timeline) {
    // A main thread held up for long (a task, a render) shows in the timeline as a gap.
    let last = now();
    setInterval(() => {
      const at = now();
      if (at - last > 150) {
        record.events.push({ at, what: `main thread held ${Math.round(at - last)} ms` });
      }
      last = at;
    }, 25);
  }

  addEventListener("click", () => {
    record.clickAt ??= now();
    note("Join click");
  }, { capture: true, once: true });

  const media = navigator.mediaDevices;
  if (timeline) {
    media.addEventListener("devicechange", () => note("devicechange"));
    const enumerate = media.enumerateDevices.bind(media);
    media.enumerateDevices = async () => {
      note("enumerateDevices");
      const list = await enumerate();
      note("enumerateDevices resolved");
      return list;
    };
  }
  const getUserMedia = media.getUserMedia.bind(media);
  media.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    record.gumAt ??= now();
    const video = stream.getVideoTracks()[0]?.getSettings();
    note(`getUserMedia resolved${video ? ` (camera ${video.width}x${video.height})` : ""}`);
    return stream;
  };

  const remoteTracks = new WeakSet<MediaStreamTrack>();
  const NativeConnection = RTCPeerConnection;
  // The probe's own reads of the stats, not counted as the client's.
  const rawGetStats = NativeConnection.prototype.getStats;
  const numbers = new WeakMap<RTCPeerConnection, number>();
  const receivers: RTCPeerConnection[] = [];
  // A receiver's track exists from setRemoteDescription on, before its
  // `track` event: a stream is remote when it holds one.
  const isRemote = (track: MediaStreamTrack) =>
    remoteTracks.has(track) ||
    receivers.some((pc) => pc.getReceivers().some((r) => r.track === track));
  let connections = 0;
  class ProbeConnection extends NativeConnection {
    constructor(config?: RTCConfiguration) {
      super(config);
      const n = ++connections;
      numbers.set(this, n);
      receivers.push(this);
      const say = (what: string) => note(`pc${n} ${what}`);
      say("created");
      this.addEventListener("track", (event) => {
        const track = event.track;
        remoteTracks.add(track);
        say(`track ${track.kind}`);
        // Unmuted when its first packets arrive.
        if (timeline) track.addEventListener("unmute", () => say(`${track.kind} unmuted`));
      });
      if (!timeline) return;
      this.addEventListener("negotiationneeded", () => say("negotiationneeded"));
      this.addEventListener(
        "icegatheringstatechange",
        () => say(`gathering ${this.iceGatheringState}`),
      );
      this.addEventListener(
        "iceconnectionstatechange",
        () => say(`ICE ${this.iceConnectionState}`),
      );
      this.addEventListener("connectionstatechange", () => say(`DTLS ${this.connectionState}`));
      // From DTLS on, the first video frame encoded, sent, received and
      // decoded, and the key frame requests, read every 50 ms for 5 s.
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState !== "connected") return;
        const seen = new Set<string>();
        const once = (key: string, what: string) => {
          if (!seen.has(key)) {
            seen.add(key);
            say(what);
          }
        };
        const until = now() + 5000;
        const read = async () => {
          if (now() > until || this.connectionState === "closed") return;
          const report = await (rawGetStats.call(this) as Promise<RTCStatsReport>);
          report.forEach((s: Record<string, unknown>) => {
            if (s.kind !== "video") return;
            if (s.type === "outbound-rtp") {
              if (Number(s.framesEncoded) > 0) {
                once("enc", `video encoded (${s.frameWidth}x${s.frameHeight})`);
              }
              if (Number(s.framesSent) > 0) once("sent", "video sent");
              if (Number(s.pliCount) > 0) {
                once(`pli-in${s.pliCount}`, `video PLI received (${s.pliCount})`);
              }
              if (s.qualityLimitationReason !== "none") {
                once(
                  `ql${s.qualityLimitationReason}`,
                  `video limited: ${s.qualityLimitationReason}`,
                );
              }
            } else if (s.type === "inbound-rtp") {
              if (Number(s.packetsReceived) > 0) once("rtp", "video packets received");
              if (Number(s.framesReceived) > 0) once("recv", "video frame received");
              if (Number(s.framesDecoded) > 0) once("dec", "video frame decoded");
              if (Number(s.pliCount) > 0) {
                once(`pli-out${s.pliCount}`, `video PLI sent (${s.pliCount})`);
              }
            }
          });
          setTimeout(read, 50);
        };
        void read();
      });
      const createOffer = this.createOffer.bind(this) as (
        options?: RTCOfferOptions,
      ) => Promise<RTCSessionDescriptionInit>;
      this.createOffer = ((options?: RTCOfferOptions) => {
        say("createOffer");
        return createOffer(options);
      }) as typeof this.createOffer;
      const createAnswer = this.createAnswer.bind(this) as () => Promise<RTCSessionDescriptionInit>;
      this.createAnswer = (() => {
        say("createAnswer");
        return createAnswer();
      }) as typeof this.createAnswer;
      const setLocal = this.setLocalDescription.bind(this);
      this.setLocalDescription = async (description?: RTCLocalSessionDescriptionInit) => {
        say(`setLocalDescription(${description?.type ?? "implicit"})`);
        await setLocal(description);
        say(`local ${this.localDescription?.type} set`);
      };
      const setRemote = this.setRemoteDescription.bind(this);
      this.setRemoteDescription = async (description: RTCSessionDescriptionInit) => {
        say(`setRemoteDescription(${description.type})`);
        await setRemote(description);
        say(`remote ${description.type} set`);
      };
    }
  }
  globalThis.RTCPeerConnection = ProbeConnection;

  // A remote video starts showing when an element gets it as srcObject and
  // presents its first frame; the callback is asked for once per element.
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, "srcObject")!;
  Object.defineProperty(HTMLMediaElement.prototype, "srcObject", {
    ...srcObject,
    set(this: HTMLMediaElement, value: MediaProvider | null) {
      srcObject.set!.call(this, value);
      if (!(this instanceof HTMLVideoElement) || !(value instanceof MediaStream)) return;
      if (value.getVideoTracks().some(isRemote)) {
        note("remote video attached");
      } else if (value.getVideoTracks().length > 0) {
        note("local video attached");
      }
      this.requestVideoFrameCallback(() => {
        const stream = this.srcObject;
        if (!(stream instanceof MediaStream)) return;
        for (const track of stream.getVideoTracks()) {
          if (isRemote(track) && record.frames[track.id] === undefined) {
            record.frames[track.id] = now();
            note(`first frame of remote video ${Object.keys(record.frames).length}`);
          }
        }
      });
    },
  });

  const getStats = NativeConnection.prototype.getStats;
  NativeConnection.prototype.getStats = function (this: RTCPeerConnection, ...args: unknown[]) {
    record.getStatsCalls++;
    return (getStats as (...a: unknown[]) => Promise<RTCStatsReport>).apply(this, args);
  };

  if (!timeline) return;
  const sayOn = (pc: RTCPeerConnection | null | undefined, what: string) =>
    note(`pc${pc ? numbers.get(pc) ?? "?" : "?"} ${what}`);
  const senderOf = new WeakMap<RTCRtpSender, RTCPeerConnection>();
  const addTrack = NativeConnection.prototype.addTrack;
  NativeConnection.prototype.addTrack = function (this: RTCPeerConnection, track, ...streams) {
    sayOn(this, `addTrack ${track.kind}`);
    const sender = addTrack.call(this, track, ...streams);
    senderOf.set(sender, this);
    return sender;
  };
  const addTransceiver = NativeConnection.prototype.addTransceiver;
  NativeConnection.prototype.addTransceiver = function (
    this: RTCPeerConnection,
    trackOrKind: MediaStreamTrack | string,
    init?: RTCRtpTransceiverInit,
  ) {
    const kind = typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind;
    sayOn(this, `addTransceiver ${kind}${init?.direction ? ` ${init.direction}` : ""}`);
    const transceiver = addTransceiver.call(this, trackOrKind, init);
    senderOf.set(transceiver.sender, this);
    return transceiver;
  };
  const getSenders = NativeConnection.prototype.getSenders;
  NativeConnection.prototype.getSenders = function (this: RTCPeerConnection) {
    const senders = getSenders.call(this);
    for (const sender of senders) senderOf.set(sender, this);
    return senders;
  };
  const setParameters = RTCRtpSender.prototype.setParameters;
  RTCRtpSender.prototype.setParameters = async function (
    this: RTCRtpSender,
    parameters: RTCRtpSendParameters,
  ) {
    const encoding = parameters.encodings?.[0];
    const what = `setParameters ${this.track?.kind ?? ""} maxBitrate=${encoding?.maxBitrate} ` +
      `scale=${encoding?.scaleResolutionDownBy}`;
    sayOn(senderOf.get(this), what);
    await setParameters.call(this, parameters);
    sayOn(senderOf.get(this), `${what} done`);
  };
  const replaceTrack = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (this: RTCRtpSender, track) {
    sayOn(senderOf.get(this), `replaceTrack ${track?.kind ?? "null"}`);
    return replaceTrack.call(this, track);
  };

  const NativeSocket = WebSocket;
  const eventOf = (data: unknown) => {
    try {
      const frame = JSON.parse(String(data));
      const description = frame.data?.session_description?.type;
      return description ? `${frame.event} ${description}` : String(frame.event);
    } catch {
      return "?";
    }
  };
  class ProbeSocket extends NativeSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      note("WebSocket created");
      this.addEventListener("open", () => note("WebSocket open"));
      this.addEventListener("message", (event) => note(`received ${eventOf(event.data)}`));
    }
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView) {
      note(`sent ${eventOf(data)}`);
      super.send(data as string);
    }
  }
  globalThis.WebSocket = ProbeSocket;
}

/** The in-page reader of what {@linkcode installProbe} recorded. */
export function readProbe(): ProbeRecord {
  return (globalThis as unknown as { __probe: ProbeRecord }).__probe;
}
