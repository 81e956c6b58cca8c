/**
 * Self-tests of the multi-instance fixtures: the Redis of `_redis.ts` and
 * the load balancer of `_balancer.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort } from "../scripts/_process.ts";
import { startBalancer } from "./_balancer.ts";
import { closeQuietly, pingRedis, startRedis } from "./_redis.ts";

/** Polls `condition` until it holds; fails naming `what` after `ms`. */
async function waitFor(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what} (${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * GET / over a new TCP connection to `port` (so each request is a new
 * choice for the balancer); resolves with the body.
 */
async function getBody(port: number, ms = 5000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, ms);
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
    );
    const response = await new Response(conn.readable).text();
    const [head, body] = response.split("\r\n\r\n");
    if (!head.startsWith("HTTP/1.1 200")) {
      throw new Error(`Expected a 200, got ${JSON.stringify(response)}`);
    }
    return body;
  } catch (error) {
    if (timedOut) throw new Error(`Timed out waiting for a response on port ${port} (${ms} ms)`);
    throw error;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** Runs `fn` with a fresh ioredis client on `url`, then quits it. */
async function withClient<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

/** A Deno.serve backend answering every request with `name`, upgrading `/ws` to a WebSocket. */
function startBackend(name: string) {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname !== "/ws") return new Response(name);
    const { socket, response } = Deno.upgradeWebSocket(request);
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  return { port: server.addr.port, sockets, shutdown: () => server.shutdown() };
}

/**
 * A bare TCP backend that completes the WebSocket handshake by hand, so the
 * test can end the TCP connection without a close frame (a dying instance).
 */
function startAbortableBackend() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const handshakes: Promise<void>[] = [];
  (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      handshakes.push(acceptWebSocket(conn));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted,
    /** Resolves once every accepted connection got its 101. */
    handshakes: () => Promise.all(handshakes),
    close() {
      listener.close();
      for (const conn of accepted) closeQuietly(conn);
    },
  };
}

async function acceptWebSocket(conn: Deno.Conn) {
  const buffer = new Uint8Array(4096);
  let request = "";
  while (!request.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("client left during the handshake");
    request += new TextDecoder().decode(buffer.subarray(0, n));
  }
  const key = /^sec-websocket-key:\s*(\S+)/im.exec(request)?.[1];
  assert.ok(key, `no Sec-WebSocket-Key in ${request}`);
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
  );
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  await conn.write(
    new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ),
  );
}

/** Opens a WebSocket and resolves once it is open. */
function openWebSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
}

/** Resolves with the close event of `ws`; rejects if it stays open for `ms`. */
function closed(ws: WebSocket, ms = 5000): Promise<CloseEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Timed out waiting for ${ws.url} to close`)),
      ms,
    );
    ws.addEventListener("close", (event) => {
      clearTimeout(timer);
      resolve(event);
    }, { once: true });
  });
}

/**
 * Asserts that `event` ended the socket without a close frame: browsers
 * report code 1006; Deno's WebSocket reports an unclean close with code 0.
 */
function assertAbnormal(event: CloseEvent) {
  const { code, wasClean } = event;
  assert.ok(!wasClean && (code === 1006 || code === 0), `closed with ${code}, clean: ${wasClean}`);
}

Deno.test("startRedis starts a server that answers PING and stop ends it", async () => {
  const redis = await startRedis();
  try {
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.equal(await pingRedis(redis.port), "+PONG");
  } finally {
    await redis.stop();
  }
  await assert.rejects(pingRedis(redis.port), Deno.errors.ConnectionRefused);
});

Deno.test("Redis restart yields an empty server on the same port, after kill, stop or neither", async () => {
  const redis = await startRedis();
  try {
    for (const before of ["nothing", "kill", "stop"] as const) {
      await withClient(redis.url, async (client) => {
        await client.set("k", "v");
        assert.equal(await client.get("k"), "v");
      });
      if (before === "kill") await redis.kill();
      if (before === "stop") await redis.stop();
      if (before !== "nothing") {
        await assert.rejects(pingRedis(redis.port), Deno.errors.ConnectionRefused);
      }
      await redis.restart();
      await withClient(redis.url, async (client) => {
        assert.equal(await client.get("k"), null, `key survived a restart after ${before}`);
        assert.equal(await client.dbsize(), 0);
      });
    }
  } finally {
    await redis.kill();
  }
});

Deno.test("Balancer forwards HTTP round robin and pin sends new connections to one backend", async () => {
  const backends = [startBackend("a"), startBackend("b")];
  const balancer = startBalancer(backends.map((b) => b.port));
  const get = () => getBody(balancer.port);
  try {
    assert.deepEqual([await get(), await get(), await get(), await get()], ["a", "b", "a", "b"]);
    balancer.pin(1);
    assert.deepEqual([await get(), await get(), await get()], ["b", "b", "b"]);
    balancer.pin(0);
    assert.deepEqual([await get(), await get()], ["a", "a"]);
    balancer.pin(null);
    assert.deepEqual([await get(), await get()].sort(), ["a", "b"]);
    assert.throws(() => balancer.pin(2), RangeError);
  } finally {
    balancer.close();
    await Promise.all(backends.map((b) => b.shutdown()));
  }
});

Deno.test("Balancer counts the connections each backend carries", async () => {
  const backends = [startBackend("a"), startBackend("b")];
  const balancer = startBalancer(backends.map((b) => b.port));
  const url = `ws://127.0.0.1:${balancer.port}/ws`;
  const sockets: WebSocket[] = [];
  try {
    balancer.pin(1);
    sockets.push(await openWebSocket(url), await openWebSocket(url));
    assert.deepEqual([balancer.connectionsTo(0), balancer.connectionsTo(1)], [0, 2]);
    await waitFor(() => backends[1].sockets.size === 2, "two sockets on backend b");
    assert.equal(backends[0].sockets.size, 0);
    const bye = closed(sockets[0]);
    sockets[0].close();
    await bye;
    await waitFor(() => balancer.connectionsTo(1) === 1, "backend b to carry one connection");
  } finally {
    for (const ws of sockets) ws.close();
    balancer.close();
    await Promise.all(backends.map((b) => b.shutdown()));
  }
});

Deno.test("Balancer passes over a dead pinned backend, and refuses only when all are dead", async () => {
  const live = startBackend("live");
  const dead = freePort();
  const balancer = startBalancer([dead, live.port]);
  const get = () => getBody(balancer.port);
  const allDead = startBalancer([dead, freePort()]);
  try {
    balancer.pin(0);
    assert.equal(await get(), "live");
    assert.equal(await get(), "live");
    await assert.rejects(getBody(allDead.port), /Expected a 200, got ""/);
  } finally {
    allDead.close();
    balancer.close();
    await live.shutdown();
  }
});

Deno.test("Balancer cuts the client without a close frame when its backend's connection ends", async () => {
  const backend = startAbortableBackend();
  const balancer = startBalancer([backend.port]);
  try {
    const ws = await openWebSocket(`ws://127.0.0.1:${balancer.port}/`);
    await backend.handshakes();
    assert.equal(balancer.connectionsTo(0), 1);
    const event = closed(ws);
    backend.accepted[0].close();
    assertAbnormal(await event);
    await waitFor(() => balancer.connectionsTo(0) === 0, "the cut connection to be uncounted");
  } finally {
    balancer.close();
    backend.close();
  }
});

Deno.test("Balancer close ends the connections through it", async () => {
  const backend = startBackend("a");
  const balancer = startBalancer([backend.port]);
  try {
    const ws = await openWebSocket(`ws://127.0.0.1:${balancer.port}/ws`);
    await waitFor(() => backend.sockets.size === 1, "the socket on the backend");
    const event = closed(ws);
    balancer.close();
    assertAbnormal(await event);
    await waitFor(() => backend.sockets.size === 0, "the backend to see its socket end");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: balancer.port }));
  } finally {
    balancer.close();
    await backend.shutdown();
  }
});
