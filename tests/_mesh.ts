/**
 * Meshes wired to a real in-memory `Hub`: each client is a store, a
 * `Mesh` and its `Monitor`, with server frames delivered in later tasks
 * and routed to the mesh the way `CallController` dispatches them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LocalTrack } from "../client/peer.ts";
import { Mesh, type MeshOptions, type MeshSecurity } from "../client/mesh.ts";
import { Monitor } from "../client/monitor.ts";
import { CallModel, type CallStore, cleanName } from "../client/store.ts";
import type { Hub } from "../lib/hub.ts";
import { encode, parseServerMessage, type ServerMessage } from "../lib/protocol.ts";
import { fakeMedia, FakePeerConnection, later, quiet } from "./_fake_rtc.ts";
import { until } from "./_wait.ts";

/** The fixed clock of hub-connected clients. */
export const MESH_NOW = Date.UTC(2026, 0, 1, 12, 30);

/** A mesh, its monitor and the connections it made. */
export interface WiredMesh {
  mesh: Mesh;
  monitor: Monitor;
  pcs: FakePeerConnection[];
}

/** Options for {@linkcode wireMesh}. */
export interface WireOptions {
  /** Sends a frame to the server. Default: dropped. */
  send?: MeshOptions["send"];
  /** Tracks for new peers. Default: none. */
  localTracks?: LocalTrack[];
  /** Clock for the mesh and monitor. Default: fixed at {@linkcode MESH_NOW}. */
  now?: () => number;
  /** Security codes. Default: none. */
  security?: MeshSecurity;
}

/** A mesh over fake connections with a monitor listening, as the call controller wires them. */
export function wireMesh(store: CallStore, options: WireOptions = {}): WiredMesh {
  const now = options.now ?? (() => MESH_NOW);
  const pcs: FakePeerConnection[] = [];
  const monitor = new Monitor({ store, peers: () => mesh, now });
  const mesh: Mesh = new Mesh({
    store,
    send: options.send ?? (() => {}),
    createConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    localTracks: () => options.localTracks ?? [],
    now,
    listener: monitor,
    security: options.security,
  });
  return { mesh, monitor, pcs };
}

/** Hands a server frame to the mesh, as `CallController` would. */
export function deliver(store: CallStore, mesh: Mesh, message: ServerMessage): void {
  switch (message.event) {
    case "welcome":
      mesh.setIceServers(message.data.ice_servers);
      store.welcomed(message.data.peer_id);
      return;
    case "addPeer":
      return mesh.add(message.data.peer_id, {
        polite: message.data.polite,
        initiator: message.data.should_create_offer,
        name: cleanName(message.data.userdata.name),
      });
    case "removePeer":
      return mesh.remove(message.data.peer_id);
    case "sessionDescription":
      return mesh.receive(message.data.peer_id, {
        description: message.data.session_description,
      });
    case "iceCandidate":
      return mesh.receive(message.data.peer_id, { candidate: message.data.ice_candidate });
  }
}

/** One browser tab's call, as far as the mesh is concerned. */
export interface MeshClient extends WiredMesh {
  store: CallStore;
  id: string;
  received: ServerMessage[];
  leave(): void;
}

/** A client mesh wired to a real Hub, frames delivered in later tasks. */
export function connect(
  hub: Hub,
  name: string,
  room = "room",
  { now, security }: { now?: () => number; security?: MeshSecurity } = {},
): MeshClient {
  const store = new CallModel({ room, name });
  const received: ServerMessage[] = [];
  const session = hub.connect({
    bufferedAmount: 0,
    send: (text) => {
      const parsed = parseServerMessage(text);
      assert.ok(parsed.ok, text);
      later(() => {
        received.push(parsed.value);
        deliver(store, wired.mesh, parsed.value);
      });
    },
    close: () => {},
  });
  const wired = wireMesh(store, {
    send: (message) => later(() => session.receive(encode(message))),
    localTracks: fakeMedia(),
    now,
    security,
  });
  later(() =>
    session.receive(encode({ event: "join", data: { channel: room, userdata: { name } } }))
  );
  return { ...wired, store, id: session.peerId, received, leave: () => session.close() };
}

/** Whether every client has a connected peer for each of the others. */
export function allConnected(clients: MeshClient[]): boolean {
  return clients.every((client) => {
    const others = clients.filter((c) => c !== client);
    const seen = client.store.participants.value;
    return others.every((o) => seen.get(o.id)?.connection === "connected");
  });
}

/**
 * Waits until everyone in `clients` is connected to everyone else with
 * the data channel open, and every fake operation has run.
 */
export async function meshed(clients: MeshClient[]): Promise<void> {
  await until(
    () =>
      allConnected(clients) &&
      clients.every((c) => c.mesh.peerIds.every((id) => c.mesh.peer(id)?.channelOpen)),
    `${clients.map((c) => c.store.name.value).join(", ")} to connect to each other`,
  );
  await until(quiet, "the meshes to finish negotiating");
}
