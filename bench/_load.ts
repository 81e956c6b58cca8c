/**
 * Load-generator clients for the benchmark: a WebSocket peer that speaks
 * the protocol and a raw TCP WebSocket client that can stop reading.
 *
 * @module
 */

/** Shared counters of the relay scenario. */
export interface Hops {
  count: number;
  latencies: number[];
  measuring: boolean;
  stopped: boolean;
}

/**
 * The value at quantile `q` of an ascending array, to three significant
 * digits (0.0862 ms at low load, 8.32 ms at saturation).
 */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return Number(value.toPrecision(3));
}

// A realistic srflx candidate: with the envelope the frame is ≈ 300 bytes.
const CANDIDATE =
  "candidate:842163049 1 udp 1677729535 203.0.113.77 54400 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag 3Yz7 network-id 1 network-cost 10";

interface Frame {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** One protocol client. */
export class TestPeer {
  id = "";
  #ws: WebSocket;
  #waiters: { event: string; peerId?: string; resolve: (frame: Frame) => void }[] = [];
  #addPeers: string[] = [];
  #addPeerWaiters: (() => void)[] = [];
  #onCandidate: ((frame: Frame) => void) | null = null;
  #closed: Promise<void>;

  private constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.#closed = new Promise((resolve) => this.#ws.addEventListener("close", () => resolve()));
    this.#ws.onmessage = (event) => this.#dispatch(JSON.parse(event.data as string));
  }

  /** Connects and waits for `welcome`. */
  static async connect(url: string): Promise<TestPeer> {
    const peer = new TestPeer(url);
    const welcome = await peer.#wait("welcome");
    peer.id = welcome.data.peer_id;
    return peer;
  }

  /**
   * Starts `window` relays from `a` to `b`; every delivery is one hop and
   * is answered with a relay back, so `window` stay in flight.
   */
  static pingPong(a: TestPeer, b: TestPeer, window: number, hops: Hops) {
    const bounce = (self: TestPeer, other: TestPeer) => (frame: Frame) => {
      if (hops.measuring) {
        hops.count++;
        hops.latencies.push(performance.now() - Number(frame.data.ice_candidate.usernameFragment));
      }
      if (!hops.stopped) self.relayTo(other.id, 0);
    };
    a.#onCandidate = bounce(a, b);
    b.#onCandidate = bounce(b, a);
    for (let i = 0; i < window; i++) a.relayTo(b.id, i);
  }

  #dispatch(frame: Frame) {
    if (frame.event === "iceCandidate") {
      this.#onCandidate?.(frame);
      return;
    }
    if (frame.event === "addPeer") {
      this.#addPeers.push(frame.data.peer_id);
      for (const wake of this.#addPeerWaiters.splice(0)) wake();
    }
    const i = this.#waiters.findIndex((w) =>
      w.event === frame.event && (w.peerId === undefined || w.peerId === frame.data?.peer_id)
    );
    if (i !== -1) this.#waiters.splice(i, 1)[0].resolve(frame);
  }

  #wait(event: string, peerId?: string): Promise<Frame> {
    return new Promise((resolve) => this.#waiters.push({ event, peerId, resolve }));
  }

  /** Resolves on the next `event` about `peerId` (register before acting). */
  next(event: string, peerId: string): Promise<Frame> {
    return this.#wait(event, peerId);
  }

  sendJoin(channel: string) {
    this.#ws.send(
      JSON.stringify({ event: "join", data: { channel, userdata: { name: "bench" } } }),
    );
  }

  /** Joins and waits for `joined`. */
  async join(channel: string): Promise<void> {
    const joined = this.#wait("joined");
    this.sendJoin(channel);
    await joined;
  }

  /** Resolves once `count` addPeers have arrived in total. */
  async waitForAddPeers(count: number): Promise<void> {
    while (this.#addPeers.length < count) {
      await new Promise<void>((resolve) => this.#addPeerWaiters.push(resolve));
    }
  }

  /** The peer id of the first addPeer. */
  async firstAddPeer(): Promise<string> {
    await this.waitForAddPeers(1);
    return this.#addPeers[0];
  }

  /** Sends one candidate-sized relay stamped with the send time. */
  relayTo(peerId: string, _seq: number) {
    this.#ws.send(JSON.stringify({
      event: "relayICECandidate",
      data: {
        peer_id: peerId,
        ice_candidate: {
          candidate: CANDIDATE,
          sdpMid: "0",
          sdpMLineIndex: 0,
          usernameFragment: String(performance.now()),
        },
      },
    }));
  }

  /** Closes deliberately and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.#ws.readyState < WebSocket.CLOSING) this.#ws.close(1000);
    await this.#closed;
  }
}

/** A WebSocket client over raw TCP that can stop reading (a slow consumer). */
export class RawSocket {
  #conn: Deno.Conn;
  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Connects to 127.0.0.1:`port`/ws and completes the handshake. */
  static async open(port: number): Promise<RawSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await RawSocket.#writeAll(
      conn,
      new TextEncoder().encode(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("connection closed during handshake");
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    if (!text.startsWith("HTTP/1.1 101")) {
      throw new Error(`handshake refused: ${text.slice(0, 40)}`);
    }
    return new RawSocket(conn);
  }

  static async #writeAll(conn: Deno.Conn, bytes: Uint8Array) {
    let written = 0;
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  }

  /** Sends one masked text frame. */
  sendText(text: string): Promise<void> {
    return this.sendFrame(0x81, new TextEncoder().encode(text));
  }

  /** Sends one masked frame; `first` is its first byte (FIN, RSV bits, opcode). */
  sendFrame(first: number, payload: Uint8Array): Promise<void> {
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const header = payload.length < 126
      ? [first, 0x80 | payload.length]
      : [first, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
    const frame = new Uint8Array(header.length + 4 + payload.length);
    frame.set(header);
    frame.set(mask, header.length);
    for (let i = 0; i < payload.length; i++) {
      frame[header.length + 4 + i] = payload[i] ^ mask[i % 4];
    }
    return RawSocket.#writeAll(this.#conn, frame);
  }

  /** Reads (and drops) whatever arrives until the server ends the connection. */
  async drain(): Promise<void> {
    const buffer = new Uint8Array(4096);
    while ((await this.#conn.read(buffer).catch(() => null)) !== null) { /* dropped */ }
  }

  /** Drops the TCP connection. */
  close() {
    try {
      this.#conn.close();
    } catch {
      // already closed by the server
    }
  }
}
