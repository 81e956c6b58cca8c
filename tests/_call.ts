/** A CallController wired to fakes: media, sockets, peer connections. */

import { CallController, type CallDeps } from "../client/call.ts";
import { CallModel } from "../client/store.ts";
import { FakePeerConnection, FakeStream, FakeTrack, quiet } from "./_fake_rtc.ts";
import { FakeSocket } from "./_helpers.ts";
import { until } from "./_wait.ts";

// The controller publishes display copies of the local stream.
Object.assign(globalThis, { MediaStream: FakeStream });

/** Options for {@linkcode fakeCall}. */
export interface FakeCallOptions {
  /** Make getUserMedia fail with this DOMException name. */
  deny?: string;
  room?: string;
  /** Extra or replaced dependencies (timers, display media, devices). */
  deps?: Partial<CallDeps>;
}

/** A controller whose browser is made of fakes, and handles to them. */
export function fakeCall(options: FakeCallOptions = {}) {
  const store = new CallModel({ room: options.room ?? "room", name: "" });
  const sockets: FakeSocket[] = [];
  const pcs: FakePeerConnection[] = [];
  const saved: string[] = [];
  const requests: MediaStreamConstraints[] = [];
  const call = new CallController(store, {
    signalingUrl: "ws://test/ws",
    getUserMedia: (constraints) => {
      requests.push(constraints);
      if (options.deny) return Promise.reject(new DOMException("no", options.deny));
      const tracks = [];
      if (constraints.audio) tracks.push(new FakeTrack("audio"));
      if (constraints.video) tracks.push(new FakeTrack("video"));
      return Promise.resolve(new FakeStream(tracks) as unknown as MediaStream);
    },
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    createConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc as unknown as RTCPeerConnection;
    },
    saveName: (name) => saved.push(name),
    ...options.deps,
  });
  /** Opens the newest socket and sends `welcome` as the server would. */
  const welcome = (peerId = "me", token?: string) => {
    const socket = sockets.at(-1)!;
    socket.open();
    socket.serverSend("welcome", {
      peer_id: peerId,
      protocol: 1,
      ice_servers: [],
      ...(token === undefined ? {} : { resume_token: token }),
    });
    return socket;
  };
  /** Joins as `name`; the server welcomes (the join is not confirmed yet). */
  const joinAs = (name: string, token?: string) => {
    call.join(name);
    return welcome("me", token);
  };
  /** The server introduces `peerId`; `offer` says which side offers first. */
  const introduce = (socket: FakeSocket, peerId: string, name: string, offer = true) => {
    socket.serverSend("addPeer", {
      peer_id: peerId,
      should_create_offer: offer,
      polite: !offer,
      userdata: { name },
    });
  };
  /** Confirms the join and introduces Bob, whom we are told to offer to. */
  const meetBob = (socket: FakeSocket) => {
    socket.serverSend("joined", { channel: "room", peers: [] });
    introduce(socket, "bob", "Bob");
  };
  /**
   * With the preview started: joins as Ann (with resume `token`, if any),
   * meets Bob and whoever `others` names, and waits until our offer to each
   * has gone out and the fakes are quiet. Returns the socket.
   */
  const meetEveryone = async (
    { token, others = [] }: { token?: string; others?: [id: string, name: string][] } = {},
  ) => {
    await call.media.startPreview();
    const socket = joinAs("Ann", token);
    meetBob(socket);
    for (const [id, name] of others) introduce(socket, id, name);
    const count = 1 + others.length;
    await until(
      () => pcs.length === count && pcs.every((pc) => pc.offersMade === 1),
      `our offers to all ${count} peers`,
    );
    await until(quiet, "the negotiations to settle");
    return socket;
  };
  /**
   * Bob (a fake connection of his own) answers our latest offer to him, so
   * our side is back in "stable" — where a change that needs a new offer
   * would make one.
   */
  const bobAnswers = async (socket: FakeSocket) => {
    const bob = new FakePeerConnection({});
    await bob.setRemoteDescription(pcs[0].localDescription!);
    await bob.setLocalDescription();
    socket.serverSend("sessionDescription", {
      peer_id: "bob",
      session_description: bob.localDescription!,
    });
    await until(() => pcs[0].signalingState === "stable", "our side to apply Bob's answer");
    await until(quiet, "the negotiation to settle");
  };
  return {
    store,
    call,
    sockets,
    pcs,
    saved,
    requests,
    welcome,
    joinAs,
    meetBob,
    introduce,
    meetEveryone,
    bobAnswers,
  };
}
