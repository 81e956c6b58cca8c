/**
 * The cluster as it runs: `server.ts` processes sharing one real
 * redis-server, real WebSocket clients through a TCP load balancer, an
 * instance killed with SIGKILL, Redis stopped and restarted empty.
 */

import assert from "node:assert/strict";
import type { ServerProcess } from "../scripts/_process.ts";
import { type Balancer, startBalancer } from "./_balancer.ts";
import { freePort, startServerProcess, TEST_SECRET } from "./_browser.ts";
import { eventually, killAll } from "./_cluster.ts";
import { CANDIDATE } from "./_helpers.ts";
import { type RedisServer, startRedis } from "./_redis.ts";

/** Seconds a dropped peer is held: short, so a test sees the end of it. */
const WINDOW_SECONDS = 3;

interface Frame {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any;
}

/** A WebSocket client that records every frame. */
class Client {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<CloseEvent>;
  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.onmessage = (event) => this.frames.push(JSON.parse(String(event.data)));
    this.closed = new Promise((resolve) => this.socket.addEventListener("close", resolve));
  }

  got(event: string): Frame[] {
    return this.frames.filter((f) => f.event === event);
  }

  send(event: string, data: unknown) {
    this.socket.send(JSON.stringify({ event, data }));
  }

  async welcome(): Promise<{ id: string; token: string }> {
    await eventually(() => this.got("welcome").length === 1, "welcome");
    const { peer_id: id, resume_token: token } = this.got("welcome")[0].data;
    return { id, token };
  }

  async join(room = "room") {
    this.send("join", { channel: room, userdata: { name: "someone" } });
    await eventually(() => this.got("joined").length > 0, "joined");
  }

  async close() {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

interface Cluster {
  redis: RedisServer;
  ports: number[];
  servers: ServerProcess[];
  balancer: Balancer;
  /** A client through the balancer, pinned to instance `index`. */
  connect(index: number): Promise<Client & { id: string; token: string }>;
  kill(index: number): Promise<void>;
  /** Starts instance `index` again on its port (after a kill). */
  start(index: number): Promise<void>;
  /** Whether Redis holds `key`. */
  redisHas(key: string): Promise<boolean>;
}

async function withCluster(fn: (cluster: Cluster) => Promise<void>) {
  const redis = await startRedis();
  const ports = [freePort(), freePort()];
  const servers: ServerProcess[] = [];
  const clients: Client[] = [];
  let balancer: Balancer | undefined;
  try {
    const env = {
      REDIS_URL: redis.url,
      SESSION_SECRET: TEST_SECRET,
      RESUME_WINDOW: String(WINDOW_SECONDS),
      JOIN_BURST: "100",
      LOG_LEVEL: "error",
    };
    for (const port of ports) servers.push(await startServerProcess(port, env));
    const lb = startBalancer(ports);
    balancer = lb;
    await fn({
      redis,
      ports,
      servers,
      balancer: lb,
      async connect(index) {
        lb.pin(index);
        const client = new Client(`ws://127.0.0.1:${lb.port}/ws`);
        clients.push(client);
        return Object.assign(client, await client.welcome());
      },
      async kill(index) {
        servers[index].child.kill("SIGKILL");
        await servers[index].exited;
      },
      async start(index) {
        servers[index] = await startServerProcess(ports[index], env);
      },
      async redisHas(key) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: redis.port });
        try {
          await conn.write(new TextEncoder().encode(`EXISTS ${key}\r\n`));
          const buffer = new Uint8Array(64);
          const n = await conn.read(buffer);
          return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).startsWith(":1");
        } finally {
          conn.close();
        }
      },
    });
  } finally {
    for (const client of clients) await client.close();
    balancer?.close();
    await killAll(servers);
    await redis.kill();
  }
}

Deno.test("Cluster processes: an instance killed: who resumes elsewhere stays, who does not is removed after the window", async () => {
  await withCluster(async (cluster) => {
    const ann = await cluster.connect(0);
    const bob = await cluster.connect(1);
    const cid = await cluster.connect(1);
    await ann.join();
    await bob.join();
    await cid.join();
    await eventually(() => ann.got("addPeer").length === 2, "Ann meets Bob and Cid");
    await cluster.kill(1);
    await bob.closed;
    // Bob's client comes back through the balancer, which now reaches instance 0 only.
    const back = await cluster.connect(1);
    back.send("resume", { token: bob.token, channels: [{ channel: "room", userdata: {} }] });
    await eventually(() => back.got("resumed").length === 1, "Bob resumed");
    assert.equal(back.got("resumed")[0].data.peer_id, bob.id);
    ann.send("relayICECandidate", { peer_id: bob.id, ice_candidate: CANDIDATE });
    await eventually(() => back.got("iceCandidate").length === 1, "Ann's relay reaches Bob");
    // Instance 1's death is noticed (Cid away), then Cid's window passes.
    await eventually(() => ann.got("peerAway").some((f) => f.data.peer_id === cid.id), "Cid away");
    await eventually(() => ann.got("removePeer").length === 1, "Cid removed after the window", {
      timeoutMs: (WINDOW_SECONDS + 5) * 1000,
    });
    assert.equal(ann.got("removePeer")[0].data.peer_id, cid.id);
    // Bob: at most away, then back (he moved: back even if never away), never removed, never
    // introduced twice.
    const aboutBob = (event: string) => ann.got(event).filter((f) => f.data.peer_id === bob.id);
    assert.ok(aboutBob("peerAway").length <= 1);
    assert.equal(aboutBob("peerBack").length, 1);
    assert.equal(aboutBob("removePeer").length, 0);
    assert.equal(aboutBob("addPeer").length, 1);
    // Bob hears of Cid on his own socket: not necessarily before Ann's frame reached the test.
    await eventually(() => back.got("removePeer").length === 1, "Bob hears Cid removed");
    assert.equal(back.got("removePeer")[0].data.peer_id, cid.id);
    const healthz = await fetch(`http://127.0.0.1:${cluster.ports[0]}/healthz`);
    assert.equal((await healthz.json()).status, "ok");
    // The survivor still admits and meshes.
    const dan = await cluster.connect(0);
    await dan.join();
    assert.deepEqual(dan.got("joined")[0].data.peers, [ann.id, bob.id]);
  });
});

Deno.test("Cluster processes: Redis down makes /healthz degraded and joins unavailable; back, it all works", async () => {
  await withCluster(async (cluster) => {
    const ann = await cluster.connect(0);
    const bob = await cluster.connect(1);
    await ann.join();
    await bob.join();
    await cluster.redis.kill();
    const health = () =>
      fetch(`http://127.0.0.1:${cluster.ports[0]}/healthz`).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
    let seen = { status: 0, body: { status: "", problem: "" } };
    for (let i = 0; i < 100 && seen.status !== 503; i++) {
      seen = await health();
      if (seen.status !== 503) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(seen.status, 503);
    assert.equal(seen.body.status, "degraded");
    assert.match(seen.body.problem, /Redis unreachable/);
    const cid = await cluster.connect(0);
    cid.send("join", { channel: "room", userdata: { name: "cid" } });
    await eventually(() => cid.got("error").length === 1, "the join refused");
    assert.equal(cid.got("error")[0].data.code, "unavailable");
    await cluster.redis.restart();
    for (let i = 0; i < 200 && seen.status !== 200; i++) {
      seen = await health();
      if (seen.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(seen.status, 200);
    await cid.join();
    assert.deepEqual(cid.got("joined")[0].data.peers, [ann.id, bob.id]);
    await eventually(() => bob.got("addPeer").length === 2, "Bob on the other instance meets Cid");
    bob.send("relayICECandidate", { peer_id: cid.id, ice_candidate: CANDIDATE });
    await eventually(() => cid.got("iceCandidate").length === 1, "relays across instances again");
  });
});

Deno.test("Cluster processes: every instance stopped at once, the first back keeps hosts, lock and password", async () => {
  await withCluster(async (cluster) => {
    const ann = await cluster.connect(0);
    const bob = await cluster.connect(1);
    await ann.join();
    await bob.join();
    ann.send("lock", { channel: "room", locked: true });
    ann.send("setPassword", { channel: "room", password: "secret" });
    await eventually(
      () => bob.got("roomState").some((f) => f.data.locked && f.data.password),
      "the room locked with a password",
    );
    // Saved at most a second after the change; then every instance dies at once.
    let saved = false;
    for (let i = 0; i < 100 && !saved; i++) {
      saved = await cluster.redisHas("mesh:rooms");
      if (!saved) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(saved, "the rooms saved in Redis");
    await cluster.kill(0);
    await cluster.kill(1);
    await cluster.start(0);
    // A stranger meets the lock; Ann comes back as host, past it.
    const stranger = await cluster.connect(0);
    stranger.send("join", { channel: "room", userdata: {} });
    await eventually(() => stranger.got("error").length === 1, "the stranger refused");
    assert.equal(stranger.got("error")[0].data.code, "room_locked");
    const back = await cluster.connect(0);
    back.send("resume", { token: ann.token, channels: [{ channel: "room", userdata: {} }] });
    await eventually(() => back.got("roomState").length > 0, "Ann's room state");
    assert.deepEqual(back.got("roomState").at(-1)!.data, {
      channel: "room",
      hosts: [ann.id],
      locked: true,
      password: true,
    });
  });
});
