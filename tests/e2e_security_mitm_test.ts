/**
 * A man in the middle, wired by the test, not the product: the signaling
 * path puts Alice and Bob in two rooms (a small proxy in front of the real
 * server renames the room each one joins), and a third page, Mallory,
 * sits in both — as "Bob" in Alice's room and as "Alice" in Bob's — with
 * two RTCPeerConnections that forward each one's camera and microphone,
 * and every data channel message, to the other. Alice and Bob see and
 * hear each other and their exchange completes, but each holds a DTLS
 * connection to Mallory: their security codes differ. Without the relay,
 * the same two pages show the same code. SECURITY_RUNS repeats both.
 */

import assert from "node:assert/strict";
import { e2eTest, startE2E, waitForPlayingVideos } from "./_browser.ts";
import { chromiumPerson, joinAs } from "./_firefox.ts";
import { codeFor } from "./_security.ts";

/** How often to run each test in a row (SECURITY_RUNS, default 1). */
const RUNS = Number(Deno.env.get("SECURITY_RUNS") ?? "1");

/** A front for the server whose pages join `<room>-<suffix>` whenever they ask for `<room>`. */
interface RoomRenamingProxy {
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves the real server's pages, and relays its WebSocket with the room
 * renamed both ways: what a malicious signaling path can do.
 */
function startRoomRenamingProxy(
  target: string,
  room: string,
  suffix: string,
): RoomRenamingProxy {
  const sockets = new Set<WebSocket>();
  const outward = `"channel":"${room}"`;
  const inward = `"channel":"${room}-${suffix}"`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const upstream = new WebSocket(`${target.replace("http", "ws")}/ws`);
      sockets.add(socket);
      sockets.add(upstream);
      const early: string[] = [];
      upstream.onopen = () => early.splice(0).forEach((text) => upstream.send(text));
      socket.onmessage = ({ data }) => {
        const text = String(data).replaceAll(outward, inward);
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else early.push(text);
      };
      upstream.onmessage = ({ data }) => {
        if (socket.readyState === WebSocket.OPEN) {
          socket.send(String(data).replaceAll(inward, outward));
        }
      };
      socket.onclose = () => upstream.close();
      upstream.onclose = () => socket.readyState === WebSocket.OPEN && socket.close();
      return response;
    }
    const answer = await fetch(new URL(url.pathname + url.search, target));
    const headers = new Headers(answer.headers);
    // fetch has decoded the body already.
    headers.delete("content-encoding");
    headers.delete("content-length");
    return new Response(answer.body, { status: answer.status, headers });
  });
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

/** What the relay page reports. */
interface RelayState {
  /** Each side's connectionState. */
  a: string;
  b: string;
  /** Tracks received from each side. */
  fromA: number;
  fromB: number;
  /** Data channel messages forwarded each way. */
  aToB: number;
  bToA: number;
}

/**
 * In Mallory's page: the relay. `join("b")` enters Bob's room as "Alice"
 * before Bob comes (Bob then offers to us), `join("a")` enters Alice's
 * room as "Bob" after her (we offer to Alice). Tracks from one side are
 * sent to the other with `replaceTrack` on transceivers made up front, so
 * nothing is renegotiated.
 */
function installRelay({ wsUrl, room }: { wsUrl: string; room: string }) {
  type Key = "a" | "b";
  interface Side {
    ws: WebSocket | null;
    peerId: string | null;
    pc: RTCPeerConnection | null;
    channel: RTCDataChannel | null;
    outbox: string[];
    /** What we send to this side: the other side's tracks, on one stream. */
    stream: MediaStream;
    /** Tracks received from this side, by kind. */
    received: Map<string, MediaStreamTrack>;
    inbox: Promise<void>;
    forwarded: number;
  }
  const side = (): Side => ({
    ws: null,
    peerId: null,
    pc: null,
    channel: null,
    outbox: [],
    stream: new MediaStream(),
    received: new Map(),
    inbox: Promise.resolve(),
    forwarded: 0,
  });
  const sides: Record<Key, Side> = { a: side(), b: side() };
  const other = (key: Key): Key => key === "a" ? "b" : "a";
  const send = (key: Key, event: string, data: unknown) =>
    sides[key].ws!.send(JSON.stringify({ event, data }));

  /** Sends to `key` whatever arrived from the other side so far. */
  function forwardTracks(key: Key) {
    const pc = sides[key].pc;
    if (pc === null) return;
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      const track = sides[other(key)].received.get(kind);
      if (track !== undefined && transceiver.sender.track !== track) {
        void transceiver.sender.replaceTrack(track);
      }
    }
  }

  function deliver(key: Key, data: string) {
    const target = sides[key];
    target.forwarded++;
    if (target.channel?.readyState === "open") target.channel.send(data);
    else target.outbox.push(data);
  }

  function adopt(key: Key, channel: RTCDataChannel) {
    const s = sides[key];
    s.channel = channel;
    channel.onopen = () => s.outbox.splice(0).forEach((data) => channel.send(data));
    channel.onmessage = ({ data }) => deliver(other(key), String(data));
  }

  function connection(key: Key): RTCPeerConnection {
    const s = sides[key];
    const pc = new RTCPeerConnection({ iceServers: [] });
    s.pc = pc;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate !== null) {
        send(key, "relayICECandidate", { peer_id: s.peerId, ice_candidate: candidate.toJSON() });
      }
    };
    pc.ontrack = ({ track }) => {
      s.received.set(track.kind, track);
      forwardTracks(other(key));
    };
    pc.ondatachannel = ({ channel }) => adopt(key, channel);
    return pc;
  }

  async function offer(key: Key) {
    const s = sides[key];
    const pc = connection(key);
    for (const kind of ["audio", "video"]) {
      pc.addTransceiver(kind, { direction: "sendrecv", streams: [s.stream] });
    }
    adopt(key, pc.createDataChannel("chat"));
    await pc.setLocalDescription();
    send(key, "relaySessionDescription", {
      peer_id: s.peerId,
      session_description: pc.localDescription!.toJSON(),
    });
  }

  async function onDescription(key: Key, description: RTCSessionDescriptionInit) {
    const s = sides[key];
    const pc = s.pc ?? connection(key);
    await pc.setRemoteDescription(description);
    if (description.type !== "offer") return;
    for (const transceiver of pc.getTransceivers()) {
      transceiver.direction = "sendrecv";
      transceiver.sender.setStreams(s.stream);
    }
    forwardTracks(key);
    await pc.setLocalDescription();
    send(key, "relaySessionDescription", {
      peer_id: s.peerId,
      session_description: pc.localDescription!.toJSON(),
    });
  }

  function join(key: Key, name: string): Promise<void> {
    const s = sides[key];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      s.ws = ws;
      ws.onerror = () => reject(new Error(`relay socket ${key} failed`));
      ws.onmessage = ({ data }) => {
        const { event, data: body } = JSON.parse(String(data));
        if (event === "welcome") {
          send(key, "join", { channel: `${room}-${key}`, userdata: { name } });
        } else if (event === "joined") {
          resolve();
        } else if (event === "addPeer") {
          s.peerId = body.peer_id;
          if (body.should_create_offer) s.inbox = s.inbox.then(() => offer(key));
        } else if (event === "sessionDescription") {
          s.inbox = s.inbox.then(() => onDescription(key, body.session_description));
        } else if (event === "iceCandidate") {
          s.inbox = s.inbox.then(() => s.pc?.addIceCandidate(body.ice_candidate)).catch(() => {});
        } else if (event === "error") {
          reject(new Error(`relay ${key}: ${body.code}`));
        }
      };
    });
  }

  (globalThis as unknown as { relay: unknown }).relay = {
    join,
    state: () => ({
      a: sides.a.pc?.connectionState ?? "none",
      b: sides.b.pc?.connectionState ?? "none",
      fromA: sides.a.received.size,
      fromB: sides.b.received.size,
      aToB: sides.b.forwarded,
      bToA: sides.a.forwarded,
    }),
  };
}

e2eTest(
  "Security codes: a relay in the middle forwards the call, and the two codes differ",
  async () => {
    for (let run = 0; run < RUNS; run++) {
      const e2e = await startE2E();
      const room = `mitm-${run}`;
      const toAlice = startRoomRenamingProxy(e2e.baseUrl, room, "a");
      const toBob = startRoomRenamingProxy(e2e.baseUrl, room, "b");
      try {
        const mallory = await e2e.newPage();
        await mallory.goto(e2e.baseUrl);
        const wsUrl = `${e2e.baseUrl.replace("http", "ws")}/ws`;
        await mallory.evaluate(installRelay, { wsUrl, room });
        const alicePage = await e2e.newPage();
        const bobPage = await e2e.newPage();
        const alice = chromiumPerson("Alice", alicePage);
        const bob = chromiumPerson("Bob", bobPage);
        // Bob's room has "Alice" before Bob comes; Alice's room gets "Bob" after her.
        await mallory.evaluate(() =>
          (globalThis as unknown as { relay: { join(k: string, n: string): Promise<void> } }).relay
            .join("b", "Alice")
        );
        await joinAs(alice, toAlice.baseUrl, room);
        await mallory.evaluate(() =>
          (globalThis as unknown as { relay: { join(k: string, n: string): Promise<void> } }).relay
            .join("a", "Bob")
        );
        await joinAs(bob, toBob.baseUrl, room);

        const aliceCode = await codeFor(alice, "Bob");
        const bobCode = await codeFor(bob, "Alice");
        const state = await mallory.evaluate(() =>
          (globalThis as unknown as { relay: { state(): RelayState } }).relay.state()
        );
        // Both see the other's video, through the relay.
        await waitForPlayingVideos(alicePage, 1);
        await waitForPlayingVideos(bobPage, 1);
        console.log(
          `run ${run + 1}/${RUNS}: Alice sees ${aliceCode}, Bob sees ${bobCode}; relay ${
            JSON.stringify(state)
          }`,
        );
        assert.equal(state.a, "connected");
        assert.equal(state.b, "connected");
        assert.equal(state.fromA, 2, "the relay received Alice's audio and video");
        assert.equal(state.fromB, 2, "the relay received Bob's audio and video");
        assert.ok(state.aToB > 0 && state.bToA > 0, "the exchange went through the relay");
        assert.match(aliceCode, /^[0-9]{15}$/);
        assert.match(bobCode, /^[0-9]{15}$/);
        assert.notEqual(aliceCode, bobCode, "the relay shows as different codes");
        assert.deepEqual(e2e.errors, []);
      } finally {
        await e2e.close();
        await toAlice.close();
        await toBob.close();
      }
    }
  },
);

e2eTest("Security codes: without the relay, the same two pages show the same code", async () => {
  for (let run = 0; run < RUNS; run++) {
    const e2e = await startE2E();
    try {
      const room = `no-relay-${run}`;
      const alicePage = await e2e.newPage();
      const bobPage = await e2e.newPage();
      const alice = chromiumPerson("Alice", alicePage);
      const bob = chromiumPerson("Bob", bobPage);
      await joinAs(alice, e2e.baseUrl, room);
      await joinAs(bob, e2e.baseUrl, room);
      await waitForPlayingVideos(alicePage, 1);
      await waitForPlayingVideos(bobPage, 1);
      const aliceCode = await codeFor(alice, "Bob");
      const bobCode = await codeFor(bob, "Alice");
      console.log(`run ${run + 1}/${RUNS}: Alice sees ${aliceCode}, Bob sees ${bobCode}`);
      assert.match(aliceCode, /^[0-9]{15}$/);
      assert.equal(aliceCode, bobCode);
      assert.deepEqual(e2e.errors, []);
    } finally {
      await e2e.close();
    }
  }
});
