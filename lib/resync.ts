/**
 * Taking the rooms from another instance, and giving them: `exportState`
 * is what a running instance hands over, `importState` takes it — as an
 * instance starts (before any op or connection), or while it runs, when it
 * finds it missed ops (a gap in the shared order, an op it cannot read,
 * Redis restarted empty while it was stopped). The people connected here
 * keep their sockets and hear what they missed. And `reassert`: when the
 * cluster lost track of this instance's people (it was declared dead, Redis
 * restarted empty), each is proposed again where it is, in its rooms.
 *
 * @module
 */

import { type Authority, parseRoomSnapshots } from "./authority.ts";
import type { Bus, ClusterState } from "./cluster.ts";
import type { Departures } from "./departures.ts";
import { PeerRecord } from "./link.ts";
import type { Logger } from "./log.ts";
import type { Peers } from "./peers.ts";
import { encodeAddPeer, type ResumeChannel } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { RelayGrants } from "./relay_grants.ts";
import type { Replica } from "./replica.ts";
import type { Resume } from "./resume.ts";
import { CLOSE_CODES } from "./wire.ts";

/** What a {@linkcode Resync} needs. */
export interface ResyncOptions {
  peers: Peers;
  registry: Registry;
  authority: Authority;
  resume: Resume;
  relays: RelayGrants;
  replica: Replica;
  departures: Departures;
  bus: Bus | undefined;
  logger: Logger;
  now(): number;
}

/** Hands the rooms over, and takes them. */
export class Resync {
  readonly #o: ResyncOptions;

  constructor(options: ResyncOptions) {
    this.#o = options;
  }

  /** Every room and where each peer is connected, for an instance that starts. */
  exportState(): ClusterState {
    const { peers, registry, authority, resume } = this.#o;
    const out = [];
    for (const peer of peers.values()) {
      // Only what the shared order made known (not a join still on its way),
      // and a peer whose leave is on its way is still in the rooms until then.
      if (!peer.known) continue;
      const { id, home, away, orphan, generation } = peer;
      out.push({ id, home, away, orphan, generation });
    }
    return {
      peers: out,
      channels: registry.entries(),
      rooms: authority.snapshot(),
      retired: resume.retiredEntries(),
    };
  }

  /**
   * Takes another instance's rooms. The peers connected here keep their
   * sockets and hear what they missed — `addPeer` for who came,
   * `removePeer` for who went, the rooms' state — and those the others do
   * not know are asserted again.
   */
  importState(state: ClusterState): void {
    const { peers, registry, resume, departures, replica } = this.#o;
    const mine = (peer: PeerRecord) => peer.home === peers.self && peer.link !== null;
    // What each person connected here saw before.
    const before = new Map<string, Set<string>>();
    const rooms = new Map<string, ResumeChannel[]>();
    for (const peer of peers.values()) {
      if (!mine(peer)) continue;
      before.set(peer.id, new Set(registry.neighboursOf(peer.id)));
      rooms.set(peer.id, this.roomsOf(peer.id));
    }
    const incoming = new Map(state.peers.map((p) => [p.id, p]));
    // What waits for its own op may never see it now (the order moved on
    // past it): those connections go, and their clients resume or join again.
    for (const link of replica.abandonWaiting()) {
      try {
        link.conn.close(CLOSE_CODES.tryAgainLater, "the server took the rooms again; reconnect");
      } catch {
        // already closed
      }
    }
    for (const peer of peers.list()) {
      registry.leaveAll(peer.id);
      // Kept: ours with a socket, and ours whose join or knock is still on its way.
      const inFlight = peer.home === peers.self && peer.shared && !peer.known;
      if (incoming.has(peer.id) || mine(peer) || inFlight) continue;
      departures.drop(peer); // gone while this instance was not looking
    }
    for (const { id, home, away, orphan, generation } of state.peers) {
      let peer = peers.get(id);
      // Connected here, by the rooms taken, yet never introduced by this instance.
      const arrived = home === peers.self && (peer === undefined || peer.home !== peers.self);
      if (peer === undefined) {
        peer = new PeerRecord(id, home);
        peers.add(peer);
      } else if (mine(peer) && home !== peers.self) {
        // It resumed on another instance meanwhile: this socket is stale.
        peers.dropLink(peer.link!, CLOSE_CODES.replaced, "resumed elsewhere");
        resume.forget(id);
        this.#o.relays.forget(id);
        before.delete(id);
      }
      peer.generation = Math.max(peer.generation, generation ?? 0);
      peer.shared = true;
      peer.known = true;
      if (mine(peer)) continue; // its socket is here, whatever the others thought
      if (arrived) peer.owed = true;
      peer.home = home;
      peer.away = away;
      if (orphan) departures.orphaned(peer);
      else departures.adopted(peer);
    }
    for (const [channel, members] of state.channels) {
      for (const [peerId, userdata] of members) {
        if (peers.has(peerId)) registry.join(peerId, { channel, userdata });
      }
    }
    this.#o.authority.load(parseRoomSnapshots(state.rooms));
    resume.addRetired(state.retired);
    for (const [peerId, saw] of before) {
      this.#caughtUp(peerId, { saw, was: rooms.get(peerId)?.map((r) => r.channel) ?? [] });
    }
    this.#holdUnclaimed();
    // Those connected here that the others had lost are asserted again, in their rooms.
    for (const id of rooms.keys()) {
      const theirs = incoming.get(id);
      const known = theirs !== undefined && theirs.home === peers.self && !theirs.orphan;
      if (known || !before.has(id)) rooms.delete(id);
    }
    if (rooms.size > 0) this.reassert(rooms);
  }

  /**
   * The rooms say some are connected here, but no socket speaks for them
   * (their resume was passed over): held away for their window, like a drop.
   */
  #holdUnclaimed() {
    const { peers, resume, departures } = this.#o;
    for (const peer of peers.list()) {
      if (peer.home !== peers.self || peer.link !== null || !peer.known) continue;
      if (resume.isAway(peer.id) || peer.leaving) continue;
      if (departures.holdAway(peer)) departures.proposeAway(peer);
    }
  }

  /**
   * A person connected here, after this instance took the rooms from
   * another: introduced to who came (they offer, as a newcomer does), told
   * who went and which of the rooms it `was` in it is out of (its part was
   * applied elsewhere), then the state of each of its rooms.
   */
  #caughtUp(peerId: string, { saw, was }: { saw: Set<string>; was: string[] }) {
    const { peers, registry, authority } = this.#o;
    const now = new Set(registry.neighboursOf(peerId));
    for (const other of now) {
      if (saw.has(other)) continue;
      const channel = [...registry.channelsOf(peerId)].find((c) => registry.isMember(other, c))!;
      const userdata = JSON.stringify(registry.userdataOf(other, channel) ?? {});
      peers.deliver(peerId, encodeAddPeer(other, false, userdata));
    }
    for (const other of saw) {
      if (!now.has(other)) peers.deliver(peerId, { event: "removePeer", data: { peer_id: other } });
    }
    for (const channel of was) {
      if (!registry.isMember(peerId, channel)) {
        peers.deliver(peerId, { event: "parted", data: { channel } });
      }
    }
    for (const channel of registry.channelsOf(peerId)) {
      const state = authority.stateOf(channel);
      if (state !== undefined) peers.deliver(peerId, { event: "roomState", data: state });
    }
  }

  /**
   * The cluster lost track of this instance's peers (it thought this
   * instance dead, Redis restarted empty, or it took the rooms from another):
   * each one connected here is proposed again, where it is and in its rooms
   * (`rooms`: only those, in those rooms).
   */
  reassert(rooms?: Map<string, ResumeChannel[]>): void {
    const { peers, bus } = this.#o;
    const mine = peers.list().filter((peer) =>
      peer.home === peers.self && peer.shared && !peer.leaving && peer.link !== null &&
      (rooms === undefined || rooms.has(peer.id))
    );
    if (mine.length > 0) {
      this.#o.logger.log("warn", "asserting this instance's peers to the cluster", {
        peers: mine.length,
      });
    }
    for (const peer of mine) {
      const channels = rooms?.get(peer.id) ?? this.roomsOf(peer.id);
      bus?.propose({
        op: "resume",
        peer: peer.id,
        home: peers.self,
        ref: 0,
        channels,
        generation: peer.generation,
      });
    }
  }

  /** The rooms `peerId` is in, with its userdata in each, as a resume lists them. */
  roomsOf(peerId: string): ResumeChannel[] {
    const registry = this.#o.registry;
    return [...registry.channelsOf(peerId)].map((channel) => ({
      channel,
      userdata: registry.userdataOf(peerId, channel) ?? {},
    }));
  }
}
