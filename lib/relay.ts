/**
 * Relaying candidates and descriptions between two peers that share a
 * channel, wherever the recipient's socket is: written here, held while it
 * is away, or sent straight to its instance. The hot path: the frame is
 * written as `encode` would write it, without building the envelope objects
 * (docs/performance.md).
 *
 * @module
 */

import type { Bus } from "./cluster.ts";
import type { PeerRecord } from "./link.ts";
import type { Metrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import type { ClientMessage } from "./protocol.ts";
import type { Registry } from "./registry.ts";
import type { Resume } from "./resume.ts";

/** What a {@linkcode Relay} needs. */
export interface RelayOptions {
  peers: Peers;
  registry: Registry;
  resume: Resume;
  bus: Bus | undefined;
  metrics: Metrics;
}

/** A relay frame from a client. */
export type RelayMessage = Extract<
  ClientMessage,
  { event: "relayICECandidate" | "relaySessionDescription" }
>;

/** Relays between peers, on this instance and across the cluster. */
export class Relay {
  readonly #o: RelayOptions;
  readonly #peers: Peers;
  readonly #registry: Registry;

  constructor(options: RelayOptions) {
    this.#o = options;
    this.#peers = options.peers;
    this.#registry = options.registry;
  }

  /** Relays `message` from `peer`, stamped with its id, to the peer it names. */
  relay(peer: PeerRecord, { event, data }: RelayMessage): void {
    const peers = this.#peers;
    const to = this.#registry.shareChannel(peer.id, data.peer_id)
      ? peers.get(data.peer_id)
      : undefined;
    if (to === undefined) {
      return peers.error(
        peer,
        "unknown_peer",
        `Cannot relay to peer "${data.peer_id.slice(0, 64)}": not in a channel with you`,
        event,
      );
    }
    this.#o.metrics.messagesRelayed++;
    const text = "ice_candidate" in data
      ? `{"event":"iceCandidate","data":{"peer_id":${peer.quoted},"ice_candidate":${
        JSON.stringify(data.ice_candidate)
      }}}`
      : `{"event":"sessionDescription","data":{"peer_id":${peer.quoted},"session_description":${
        JSON.stringify(data.session_description)
      }}}`;
    if (to.home === peers.self) {
      // Away: held for its return.
      if (to.link === null) return this.#o.resume.hold(to.id, text);
      return peers.write(to, text);
    }
    // Its socket is on another instance: straight there, in order.
    if (!this.#o.bus?.send(to.home, to.id, text)) {
      peers.error(
        peer,
        "unavailable",
        "Cannot relay: this server cannot reach the rest of the cluster; try again in a moment",
        event,
      );
    }
  }

  /** A frame relayed from another instance for a peer connected here. */
  arrived(peerId: string, text: string): void {
    const peer = this.#o.peers.get(peerId);
    if (peer === undefined || peer.home !== this.#o.peers.self) return;
    if (peer.link === null) return this.#o.resume.hold(peer.id, text);
    this.#o.peers.write(peer, text);
  }
}
