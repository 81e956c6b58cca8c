/**
 * Watches the mesh's connections and writes what it sees into the store:
 * quality per peer from periodic stats, who is speaking, why a connection
 * fails or is stuck, and — because in a mesh every participant uploads one
 * copy per peer — each video sender's bitrate for the room size. Separate
 * from the mesh so connecting people and judging connections change apart.
 *
 * @module
 */

import { GLOBAL_TIMERS, type Timers } from "./_timers.ts";
import { applyEncoding, videoEncodingFor, WARMUP_MS, warmupEncoding } from "./adaptive.ts";
import { diagnose } from "./diagnosis.ts";
import type { MeshListener } from "./mesh.ts";
import type { Peer } from "./peer.ts";
import {
  localAudioLevel,
  pickActiveSpeaker,
  type SpeakerState,
  type StatsSample,
  summarizeStats,
} from "./quality.ts";
import type { CallStore } from "./store.ts";

/** The part of the mesh a monitor reads. */
export interface MonitoredPeers {
  readonly peerIds: string[];
  peer(peerId: string): Peer | undefined;
  readonly iceServers: readonly RTCIceServer[];
}

/** Collaborators of a {@linkcode Monitor}. */
export interface MonitorOptions {
  store: CallStore;
  /**
   * The connections to watch (the mesh). A function because the mesh is
   * made after its monitor, which it tells about peers as they come.
   */
  peers(): MonitoredPeers;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** How long a connection may stay "connecting" before it is diagnosed, ms. Default 10,000. */
  stuckAfterMs?: number;
  /** Timers for the sampling interval. Default {@linkcode GLOBAL_TIMERS}. */
  timers?: Timers;
}

/** Stats bookkeeping for one peer. */
interface Watch {
  addedAt: number;
  sample: StatsSample | null;
  /** Their voice level in the last stats sample, for browsers with no other way to tell. */
  statsLevel: number;
  /** When the connection first connected: the camera goes full size {@linkcode WARMUP_MS} later. */
  connectedAt: number | null;
}

/**
 * Every how many ticks the whole stats are sampled (quality, diagnosis,
 * sender adaptation); the ticks between only listen for who speaks.
 */
export const STATS_EVERY_TICKS = 4;

/** Quality, speaker, diagnosis and sender adaptation for one call's mesh. */
export class Monitor implements MeshListener {
  #options: MonitorOptions;
  #now: () => number;
  #watches = new Map<string, Watch>();
  #speaker: SpeakerState = { id: null, since: 0 };
  #timer: unknown;
  #ticks = 0;

  constructor(options: MonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Listens for who speaks every `intervalMs`, and samples the whole stats
   * every {@linkcode STATS_EVERY_TICKS} ticks, until {@linkcode stop}; 0
   * does nothing.
   */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.#timer !== undefined) return;
    const timers = this.#options.timers ?? GLOBAL_TIMERS;
    const tick = () => {
      // Re-armed before sampling, like an interval: a slow getStats() does
      // not stretch the period.
      this.#timer = timers.setTimeout(tick, intervalMs);
      void (++this.#ticks % STATS_EVERY_TICKS === 0 ? this.sample() : this.listen());
    };
    this.#timer = timers.setTimeout(tick, intervalMs);
  }

  /** Stops sampling. */
  stop(): void {
    if (this.#timer === undefined) return;
    (this.#options.timers ?? GLOBAL_TIMERS).clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A new peer: the room grew, so every copy gets a smaller share. */
  peerAdded(peerId: string): void {
    this.#watches.set(peerId, {
      addedAt: this.#now(),
      sample: null,
      statsLevel: 0,
      connectedAt: null,
    });
    void this.adaptQuality();
  }

  /** A peer left: the room shrank, so every copy may use more. */
  peerRemoved(peerId: string): void {
    this.#watches.delete(peerId);
    void this.adaptQuality();
  }

  /** A connection works again (the diagnosis goes) or failed (say why). */
  connectionChanged(peerId: string, state: RTCPeerConnectionState): void {
    const { store } = this.#options;
    // The answering side's senders exist from now on: they warm up too.
    if (state === "connecting") void this.adaptQuality();
    if (state === "connected") {
      store.patchParticipant(peerId, { diagnosis: null });
      // The camera goes full size with the first stats sample after the warm-up.
      const watch = this.#watches.get(peerId);
      if (watch !== undefined && watch.connectedAt === null) watch.connectedAt = this.#now();
      void this.adaptQuality();
    }
    if (state === "failed") {
      store.patchParticipant(peerId, { diagnosis: this.#diagnose(peerId, true) });
    }
  }

  /**
   * Polls every connection's stats once: quality per peer, the active
   * speaker, a diagnosis for connections stuck connecting, and sender
   * quality for the room size.
   */
  async sample(): Promise<void> {
    const { store } = this.#options;
    const peers = this.#options.peers();
    const now = this.#now();
    let ownLevel = 0;
    await Promise.all(peers.peerIds.map(async (peerId) => {
      const peer = peers.peer(peerId);
      const watch = this.#watches.get(peerId);
      if (peer === undefined || watch === undefined) return;
      let entries;
      try {
        entries = await peer.stats();
      } catch {
        return; // closed meanwhile
      }
      const { quality, sample } = summarizeStats(entries, { previous: watch.sample, now });
      watch.sample = sample;
      watch.statsLevel = quality.audioLevel;
      ownLevel = Math.max(ownLevel, localAudioLevel(entries));
      const participant = store.participants.value.get(peerId);
      if (participant === undefined) return;
      const failed = participant.connection === "failed";
      const stuck = participant.connection !== "connected" &&
        now - watch.addedAt > (this.#options.stuckAfterMs ?? 10_000);
      store.setQuality(peerId, quality);
      store.patchParticipant(peerId, {
        diagnosis: stuck || failed ? this.#diagnose(peerId, failed) : null,
      });
    }));
    this.#pickSpeaker(ownLevel, now);
    await this.adaptQuality();
  }

  /**
   * Who is speaking, without the whole stats: each remote voice's level
   * from its receiver (synchronous), ours from one audio sender's own
   * stats — one small report however many people there are.
   */
  async listen(): Promise<void> {
    const peers = this.#options.peers();
    const now = this.#now();
    let ownLevel = 0;
    if (this.#options.store.micOn.value) {
      const sender = peers.peerIds.map((peerId) => peers.peer(peerId)).find((peer) =>
        peer !== undefined
      );
      try {
        ownLevel = (await sender?.localAudioLevel()) ?? 0;
      } catch {
        // closed meanwhile
      }
    }
    this.#pickSpeaker(ownLevel, now);
  }

  #pickSpeaker(ownLevel: number, now: number) {
    const { store } = this.#options;
    const peers = this.#options.peers();
    const levels = new Map<string, number>();
    for (const peerId of peers.peerIds) {
      const watch = this.#watches.get(peerId);
      if (watch === undefined || store.participants.value.get(peerId)?.micOn !== true) continue;
      levels.set(peerId, peers.peer(peerId)?.remoteAudioLevel() ?? watch.statsLevel);
    }
    if (store.micOn.value) levels.set("self", ownLevel);
    this.#speaker = pickActiveSpeaker(levels, { current: this.#speaker, now });
    store.setActiveSpeaker(this.#speaker.id);
  }

  /**
   * Sets every video sender's bitrate and resolution for the room size; a
   * camera on a connection younger than {@linkcode WARMUP_MS} stays small.
   */
  async adaptQuality(): Promise<void> {
    const peers = this.#options.peers();
    const now = this.#now();
    const all = peers.peerIds.flatMap((peerId) => {
      const peer = peers.peer(peerId);
      const connectedAt = this.#watches.get(peerId)?.connectedAt ?? null;
      return peer === undefined
        ? []
        : [{ peer, warm: connectedAt !== null && now - connectedAt >= WARMUP_MS }];
    });
    await Promise.all(
      all.flatMap(({ peer, warm }) =>
        peer.videoSenders().map(({ source, sender }) => {
          const encoding = videoEncodingFor(all.length, source);
          return applyEncoding(
            sender,
            source === "camera" && !warm ? warmupEncoding(encoding) : encoding,
          )
            .catch(() => false);
        })
      ),
    );
  }

  #diagnose(peerId: string, failed: boolean) {
    const { store } = this.#options;
    const peers = this.#options.peers();
    const peer = peers.peer(peerId);
    const name = store.participants.value.get(peerId)?.name;
    if (peer === undefined || name === undefined) return null;
    return diagnose(peer.iceFacts(peers.iceServers, failed), name);
  }
}
