/** Shared fakes and fixtures for the test suite. */

import type { SocketLike } from "../client/signaling.ts";
import { type Connection, Hub, type HubOptions, type Session } from "../lib/hub.ts";
import type { ResumeChannel } from "../lib/protocol.ts";
import { TokenSigner } from "../lib/token.ts";

/** An ICE candidate as a client relays it; opaque to the server. */
export const CANDIDATE = {
  candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host",
  sdpMid: "0",
  sdpMLineIndex: 0,
};

/** A session description as a client relays it; opaque to the server. */
export const OFFER = { type: "offer", sdp: "v=0\r\n" };

/** A token-signing secret with enough distinct bytes to be accepted. */
export const SECRET = new TextEncoder().encode("0123456789abcdef0123456789abcdef");

/** A frame as a test reads it. */
export interface Frame {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** A Connection that records what the hub sent and how it was closed. */
export class FakeConnection implements Connection {
  sent: string[] = [];
  closedWith?: { code: number; reason: string };
  bufferedAmount = 0;

  send(text: string): void {
    if (this.closedWith) throw new Error("socket closed");
    this.sent.push(text);
  }

  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }

  /** The frames sent so far, parsed, optionally only of one event. */
  frames(event?: string): Frame[] {
    const all = this.sent.map((s) => JSON.parse(s) as Frame);
    return event === undefined ? all : all.filter((f) => f.event === event);
  }

  /** Returns the frames sent since the last call and forgets them. */
  take(): Frame[] {
    const out = this.frames();
    this.sent = [];
    return out;
  }

  /**
   * Like {@linkcode FakeConnection.take}, without `roomState` (which a v1
   * client ignores): for tests of the v1 join, part and resume frames.
   */
  takeV1(): Frame[] {
    return this.take().filter((f) => f.event !== "roomState");
  }
}

/** A settable clock in milliseconds. */
export class FakeClock {
  ms = 0;
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Sequential readable peer ids: p1, p2, … */
export function sequentialIds(): () => string {
  let n = 0;
  return () => `p${++n}`;
}

/** Builds a client frame. */
export function frame(event: string, data: unknown): string {
  return JSON.stringify({ event, data });
}

/** Sends `join` on `session`. */
export function join(session: Session, channel: string, userdata: unknown = {}): void {
  session.receive(frame("join", { channel, userdata }));
}

/** One connection to a {@linkcode hubFixture} hub, its `welcome` already read. */
export interface Member {
  conn: FakeConnection;
  session: Session;
  id: string;
  // deno-lint-ignore no-explicit-any
  welcome: any;
  /** The resume token from `welcome` (undefined without a signer). */
  token: string;
}

/**
 * A hub on a fake clock with sequential ids (p1, p2, …) and helpers to
 * connect, join and resume. `startMs` sets the clock (tokens carry times).
 */
export function hubFixture(options: HubOptions = {}, { startMs = 0 }: { startMs?: number } = {}) {
  const clock = new FakeClock();
  clock.ms = startMs;
  const hub = new Hub({ newId: sequentialIds(), now: clock.now, ...options });
  /** A new connection, `welcome` read and taken. */
  const connect = (address?: string): Member => {
    const conn = new FakeConnection();
    const session = hub.connect(conn, { address });
    const [welcome] = conn.take();
    return {
      conn,
      session,
      id: session.peerId,
      welcome: welcome.data,
      token: welcome.data.resume_token,
    };
  };
  /** A new connection that joined `room` with its id as its name. */
  const member = (room = "room"): Member => {
    const m = connect();
    join(m.session, room, { name: m.id });
    return m;
  };
  /** Two peers in "room", with everything they were sent so far read. */
  const pairInRoom = (): [Member, Member] => {
    const pair: [Member, Member] = [connect(), connect()];
    for (const p of pair) join(p.session, "room");
    for (const p of pair) p.conn.take();
    return pair;
  };
  /** A new connection resuming with `token` as its first frame. */
  const resume = (
    token: string,
    channels: ResumeChannel[] = [{ channel: "room", userdata: {} }],
  ): Member => {
    const m = connect();
    m.session.receive(frame("resume", { token, channels }));
    return m;
  };
  return { hub, clock, connect, member, pairInRoom, resume };
}

/**
 * A {@linkcode hubFixture} whose peers can resume: a token signer, a 25 s
 * window, 120 s tokens, and a clock at a real date (tokens carry times).
 */
export function resumableHubFixture(options: HubOptions = {}) {
  return hubFixture({
    tokens: new TokenSigner(SECRET),
    resumeWindowMs: 25_000,
    tokenTtlMs: 120_000,
    ...options,
  }, { startMs: 1_700_000_000_000 });
}

/** A real WebSocket client that queues frames so tests can await them. */
export class TestClient {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseEvent>;
  #queue: Frame[] = [];
  #waiters: (() => void)[] = [];

  private constructor(url: string) {
    this.socket = new WebSocket(url);
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", resolve, { once: true });
    });
    this.socket.addEventListener("message", (event) => {
      this.#queue.push(JSON.parse(String(event.data)));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed.then(() => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Connects and waits for `welcome`. */
  static async connect(
    url: string,
  ): Promise<{ client: TestClient; peerId: string; welcome: Frame }> {
    const client = new TestClient(url);
    const welcome = await client.next("welcome");
    return { client, peerId: welcome.data.peer_id, welcome };
  }

  send(event: string, data: unknown): void {
    this.socket.send(frame(event, data));
  }

  /** Resolves with the next frame (of `event`, skipping none: order matters). */
  async next(event?: string): Promise<Frame> {
    while (this.#queue.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(
          `socket closed while waiting for ${event ?? "a frame"}`,
        );
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const got = this.#queue.shift()!;
    if (event !== undefined && got.event !== event) {
      throw new Error(`expected ${event}, got ${JSON.stringify(got)}`);
    }
    return got;
  }

  /** Closes the socket and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

/** A WebSocket stand-in the test drives from the "server" side. */
export class FakeSocket implements SocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closedWith?: number;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }
  send(data: string) {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data);
  }
  close(code = 1000) {
    this.closedWith = code;
    this.serverClose(code);
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  serverSend(event: string, data: unknown) {
    this.onmessage?.(
      new MessageEvent("message", { data: JSON.stringify({ event, data }) }),
    );
  }
  serverClose(code: number, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }
  frames() {
    return this.sent.map((s) => JSON.parse(s));
  }
}

/** Closes sockets and waits until each one is closed. */
export async function closeAll(sockets: WebSocket[]) {
  await Promise.all(
    sockets.map((s) =>
      s.readyState === WebSocket.CLOSED ? undefined : new Promise<void>((resolve) => {
        s.addEventListener("close", () => resolve(), { once: true });
        s.close();
      })
    ),
  );
}
