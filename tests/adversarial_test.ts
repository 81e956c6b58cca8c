/**
 * Adversarial probes against the real server on loopback: connection
 * floods, room scanning, Host tricks, token replay. Each records what the
 * server let through; docs/security.md quotes the figures.
 */

import assert from "node:assert/strict";
import { RawSocket } from "../bench/_load.ts";
import { closeAll, TestClient } from "./_helpers.ts";
import { savedWith, withRestartableServer, withServer } from "./_server.ts";

/** Opens a socket and resolves whether it opened or was refused. */
function tryOpen(url: string): Promise<{ socket: WebSocket; opened: boolean }> {
  const socket = new WebSocket(url);
  return new Promise((resolve) => {
    socket.onopen = () => resolve({ socket, opened: true });
    socket.onerror = () => resolve({ socket, opened: false });
  });
}

/** Sends raw HTTP bytes and returns the status line and body. */
async function rawRequest(port: number, text: string): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(text));
    let out = "";
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      out += new TextDecoder().decode(buffer.subarray(0, n));
      const headerEnd = out.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(out)?.[1];
      if (
        headerEnd !== -1 && length !== undefined && out.length >= headerEnd + 4 + Number(length)
      ) {
        break;
      }
    }
    return { status: Number(out.split(" ")[1]), body: out.slice(out.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}

Deno.test("Adversary: one address cannot hold more sockets than MAX_CONNECTIONS_PER_ADDRESS", async () => {
  await withServer({ MAX_CONNECTIONS_PER_ADDRESS: "5" }, async (server, url) => {
    const attempts = await Promise.all(Array.from({ length: 12 }, () => tryOpen(url)));
    const opened = attempts.filter((a) => a.opened).length;
    assert.equal(opened, 5, "five held, seven refused");
    assert.equal(server.hub.metrics.connectionsRefused, 7);
    // Positive control: a closed socket frees its place.
    await closeAll(
      attempts.map((a) => a.socket).slice(0, 1).concat(
        attempts.filter((a) => !a.opened).map((a) => a.socket),
      ),
    );
    const again = await tryOpen(url);
    assert.equal(again.opened, true, "a place freed by a close is usable");
    await closeAll([...attempts.map((a) => a.socket), again.socket]);
  });
});

Deno.test("Adversary: a room scanner gets a handful of joins, then rate_limited", async () => {
  await withServer({}, async (_server, url) => {
    const { client } = await TestClient.connect(url);
    for (let i = 0; i < 40; i++) {
      client.send("join", { channel: `guess-${i}`, userdata: {} });
      client.send("part", { channel: `guess-${i}` });
    }
    let joined = 0;
    let refused = 0;
    while (joined + refused < 40) {
      const f = await client.next();
      if (f.event === "joined") joined++;
      if (f.event === "error" && f.data.code === "rate_limited") refused++;
    }
    assert.equal(joined, 10, "the default burst");
    assert.equal(refused, 30);
    await client.close();
  });
});

Deno.test("Adversary: Host tricks get 400 and never reach another route", async () => {
  await withServer({}, async (server) => {
    const port = server.port;
    const trick = await rawRequest(
      port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}/metrics?\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(trick.status, 400);
    assert.doesNotMatch(trick.body, /signal_/, "no metrics through a Host with a path");
    const junk = await rawRequest(port, "GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n");
    assert.equal(junk.status, 400);
    // Positive control: the plain request is served.
    const plain = await rawRequest(
      port,
      `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(plain.status, 200);
    assert.match(plain.body, /signal_connections /);
  });
});

Deno.test("Adversary: a token of someone who left is refused after a SIGKILL and restart", async () => {
  await withRestartableServer(async (server) => {
    const left = await TestClient.connect(server.url);
    const leftToken: string = left.welcome.data.resume_token;
    left.client.send("join", { channel: "room", userdata: {} });
    await left.client.next("joined");
    const stays = await TestClient.connect(server.url);
    const staysToken: string = stays.welcome.data.resume_token;
    stays.client.send("join", { channel: "room", userdata: {} });
    await stays.client.next("addPeer");
    await left.client.close(); // Leave: retired
    await savedWith(`${server.dataDir}/retired.json`, left.peerId);
    await server.restart();
    await stays.client.closed;

    const replay = await TestClient.connect(server.url);
    replay.client.send("resume", { token: leftToken, channels: [{ channel: "room" }] });
    const refused = await replay.client.next("error");
    assert.equal(refused.data.code, "bad_token");
    assert.match(refused.data.message, /left/);
    // Positive control: the one who did not leave resumes on the new process.
    const back = await TestClient.connect(server.url);
    back.client.send("resume", { token: staysToken, channels: [{ channel: "room" }] });
    const resumed = await back.client.next("resumed");
    assert.equal(resumed.data.peer_id, stays.peerId);
    await replay.client.close();
    await back.client.close();
  });
});

Deno.test("Adversary: a client that breaks the WebSocket framing is held away like a dropped network, not taken as leaving", async () => {
  await withServer({}, async (server, url) => {
    const { client: ann } = await TestClient.connect(url);
    ann.send("join", { channel: "room", userdata: { name: "Ann" } });
    await ann.next("joined");
    for (
      const [end, heard] of [["broken frame", "peerAway"], ["close frame", "removePeer"]] as const
    ) {
      const raw = await RawSocket.open(server.port);
      await raw.sendText(
        JSON.stringify({ event: "join", data: { channel: "room", userdata: { name: "raw" } } }),
      );
      const added = await ann.next("addPeer");
      await (end === "broken frame"
        // RSV1 set without an extension, and a reserved opcode: a protocol error.
        ? raw.sendFrame(0xc3, new Uint8Array([1, 2, 3]))
        : raw.sendFrame(0x88, new Uint8Array([0x03, 0xe8]))); // close, 1000
      await raw.drain();
      raw.close();
      // Broken: Deno errors, then closes with code 0 — held for its resume window.
      // Positive control: a close frame with 1000 is Leave.
      const frame = await ann.next(heard);
      assert.equal(frame.data.peer_id, added.data.peer_id, end);
    }
    await ann.close();
  });
});
