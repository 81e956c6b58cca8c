import assert from "node:assert/strict";
import { createHandler, isDeliberateClose, isOriginAllowed } from "../lib/http.ts";
import { Hub } from "../lib/hub.ts";
import { buildAssetTable } from "../lib/static.ts";

const encoder = new TextEncoder();

async function setup() {
  const assets = await buildAssetTable([
    ["/index.html", encoder.encode("<!doctype html><title>app</title>")],
    ["/app.js", encoder.encode("console.log(1)")],
    ["/style.css", encoder.encode("body{}")],
    ["/notes.unknownext", encoder.encode("hidden")],
  ]);
  const hub = new Hub();
  const handler = createHandler(hub, assets, {
    allowedOrigins: ["https://friend.example"],
  });
  const get = (path: string, init: RequestInit = {}) =>
    handler(new Request(`http://localhost:8000${path}`, init));
  return { hub, get };
}

Deno.test("Handler serves the app page at / and at /r/<room>", async () => {
  const { get } = await setup();
  for (const path of ["/", "/r/my-room", "/index.html"]) {
    const response = get(path);
    assert.equal(response.status, 200, path);
    assert.equal(
      response.headers.get("content-type"),
      "text/html; charset=utf-8",
    );
    assert.match(
      response.headers.get("content-security-policy") ?? "",
      /default-src 'self'/,
    );
    assert.equal(await response.text(), "<!doctype html><title>app</title>");
  }
});

Deno.test("Handler serves assets with their content types and an ETag", async () => {
  const { get } = await setup();
  const js = get("/app.js");
  assert.equal(
    js.headers.get("content-type"),
    "text/javascript; charset=utf-8",
  );
  assert.equal(js.headers.get("cache-control"), "no-cache");
  assert.equal(js.headers.get("x-content-type-options"), "nosniff");
  assert.equal(await js.text(), "console.log(1)");
  const css = get("/style.css");
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();
});

Deno.test("Handler answers If-None-Match with 304", async () => {
  const { get } = await setup();
  const first = get("/app.js");
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]{24}"$/);
  const second = get("/app.js", { headers: { "if-none-match": etag } });
  assert.equal(second.status, 304);
  assert.equal(second.body, null);
  const other = get("/app.js", { headers: { "if-none-match": '"nope"' } });
  assert.equal(other.status, 200);
  await other.body?.cancel();
});

Deno.test("Handler answers HEAD without a body", async () => {
  const { get } = await setup();
  const response = get("/app.js", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "14");
  assert.equal(response.body, null);
});

Deno.test("Handler returns 404 for paths outside the asset table, traversal included", async () => {
  const { get } = await setup();
  for (
    const path of [
      "/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd",
      "/static/app.js",
      "/app.js/",
      "/notes.unknownext",
      "/server.ts",
      "/r/bad%20room",
      "/r/a/b",
      "/%00",
    ]
  ) {
    const response = get(path);
    assert.equal(response.status, 404, path);
    await response.body?.cancel();
  }
});

Deno.test("Handler refuses other methods with 405 and an Allow header", async () => {
  const { get } = await setup();
  const page = get("/", { method: "POST" });
  assert.equal(page.status, 405);
  assert.equal(page.headers.get("allow"), "GET, HEAD");
  await page.body?.cancel();
  const ws = get("/ws", { method: "PUT" });
  assert.equal(ws.status, 405);
  await ws.body?.cancel();
});

Deno.test("Handler answers /ws without an upgrade with 426", async () => {
  const { get } = await setup();
  const response = get("/ws");
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("upgrade"), "websocket");
  await response.body?.cancel();
});

Deno.test("Handler refuses a cross-site WebSocket upgrade with 403", async () => {
  const { get } = await setup();
  const response = get("/ws", {
    headers: {
      upgrade: "websocket",
      origin: "https://evil.example",
      host: "localhost:8000",
    },
  });
  assert.equal(response.status, 403);
  await response.body?.cancel();
});

Deno.test("isOriginAllowed accepts no origin, the same host and listed origins only", () => {
  const allowed = ["https://friend.example"];
  assert.equal(isOriginAllowed(null, { host: "localhost:8000", allowed: allowed }), true);
  assert.equal(
    isOriginAllowed("http://localhost:8000", { host: "localhost:8000", allowed: allowed }),
    true,
  );
  assert.equal(
    isOriginAllowed("https://meet.example", { host: "meet.example", allowed: allowed }),
    true,
  );
  assert.equal(
    isOriginAllowed("https://friend.example", { host: "localhost:8000", allowed: allowed }),
    true,
  );
  assert.equal(
    isOriginAllowed("http://localhost:8001", { host: "localhost:8000", allowed: allowed }),
    false,
  );
  assert.equal(
    isOriginAllowed("https://evil.example", { host: "localhost:8000", allowed: allowed }),
    false,
  );
  assert.equal(isOriginAllowed("null", { host: "localhost:8000", allowed: allowed }), false);
  assert.equal(isOriginAllowed("http://localhost:8000", { host: null, allowed: [] }), false);
});

Deno.test("Handler reports health as JSON", async () => {
  const { get } = await setup();
  const response = get("/healthz");
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ok");
  assert.equal(body.connections, 0);
  assert.equal(body.channels, 0);
});

Deno.test("Handler serves Prometheus metrics", async () => {
  const { get } = await setup();
  const response = get("/metrics");
  assert.equal(response.status, 200);
  assert.match(
    response.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  const text = await response.text();
  assert.match(text, /^# TYPE signal_connections gauge$/m);
  assert.match(text, /^signal_errors_total\{code="rate_limited"\} 0$/m);
});

Deno.test("Handler answers a malformed WebSocket handshake with 400", async () => {
  const { get } = await setup();
  const response = get("/ws", { headers: { upgrade: "websocket", host: "localhost:8000" } });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /^Bad WebSocket handshake/);
});

Deno.test("Handler answers a Host with a path or junk in it with 400, never another route", async () => {
  const { get, hub } = await setup();
  const handler = createHandler(hub, await buildAssetTable([["/index.html", encoder.encode("x")]]));
  // Deno builds request.url from Host: "host/metrics?" turns GET / into /metrics.
  for (const host of ["127.0.0.1:8000/metrics?", "a b", "x:8000#frag", "evil.example\\@x"]) {
    const url = `http://${host.replace(/[ \\]/g, "_")}/`;
    const response = handler(new Request(url, { headers: { host } }));
    assert.equal(response.status, 400, host);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.doesNotMatch(await response.text(), /connections/);
  }
  // Positive control: plain hosts are served.
  for (const host of ["localhost:8000", "meet.example.org", "[::1]:8000", "127.0.0.1"]) {
    const response = get("/healthz", { headers: { host } });
    assert.equal(response.status, 200, host);
    await response.body?.cancel();
  }
});

Deno.test("Handler with PUBLIC_ORIGIN refuses other Hosts and Origins (DNS rebinding)", async () => {
  const hub = new Hub();
  const assets = await buildAssetTable([["/index.html", encoder.encode("x")]]);
  const handler = createHandler(hub, assets, { publicOrigin: "https://meet.example.org" });
  const request = (host: string, headers: Record<string, string> = {}, path = "/") =>
    handler(new Request(`http://${host}${path}`, { headers: { host, ...headers } }));
  // A rebinding page: foreign Origin with a matching foreign Host.
  const rebound = request(
    "evil.example",
    { origin: "http://evil.example", upgrade: "websocket" },
    "/ws",
  );
  assert.equal(rebound.status, 421);
  await rebound.body?.cancel();
  assert.equal(request("evil.example").status, 421);
  // Right host, wrong scheme in Origin: refused.
  const wrongScheme = request("meet.example.org", {
    origin: "http://meet.example.org",
    upgrade: "websocket",
  }, "/ws");
  assert.equal(wrongScheme.status, 403);
  await wrongScheme.body?.cancel();
  // Positive control: the public origin is served.
  const page = request("meet.example.org");
  assert.equal(page.status, 200);
  await page.body?.cancel();
  assert.equal(
    isOriginAllowed("https://meet.example.org", {
      host: "meet.example.org",
      allowed: [],
      publicOrigin: "https://meet.example.org",
    }),
    true,
  );
});

Deno.test("Handler page headers forbid form posts and cross-origin openers; HSTS only over TLS", async () => {
  const assets = await buildAssetTable([["/index.html", encoder.encode("x")]]);
  const plain = createHandler(new Hub(), assets)(new Request("http://localhost:8000/"));
  assert.match(plain.headers.get("content-security-policy") ?? "", /form-action 'none'/);
  assert.equal(plain.headers.get("cross-origin-opener-policy"), "same-origin");
  assert.equal(plain.headers.get("strict-transport-security"), null);
  await plain.body?.cancel();
  const tls = createHandler(new Hub(), assets, { tls: true })(new Request("https://localhost/"));
  assert.match(tls.headers.get("strict-transport-security") ?? "", /max-age=\d+/);
  await tls.body?.cancel();
  const missing = createHandler(new Hub(), assets)(new Request("http://localhost:8000/nope"));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("x-content-type-options"), "nosniff");
  await missing.body?.cancel();
});

Deno.test("Handler guards /metrics with METRICS_TOKEN when one is set", async () => {
  const token = "m".repeat(16) + "0123456789abcdef";
  const handler = createHandler(new Hub(), await buildAssetTable([]), { metricsToken: token });
  const ask = (authorization?: string) =>
    handler(
      new Request("http://localhost:8000/metrics", {
        headers: authorization === undefined ? {} : { authorization },
      }),
    );
  for (const wrong of [undefined, "Bearer nope", `Bearer ${token}x`, token]) {
    const response = ask(wrong);
    assert.equal(response.status, 401, String(wrong));
    assert.doesNotMatch(await response.text(), /signal_/);
  }
  const ok = ask(`Bearer ${token}`);
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /signal_connections /);
});

Deno.test("isDeliberateClose tells leaving from dropping", () => {
  assert.equal(isDeliberateClose({ code: 1000, reason: "" }), true, "Leave");
  assert.equal(isDeliberateClose({ code: 1001, reason: "" }), true, "tab closed");
  assert.equal(
    isDeliberateClose({ code: 1005, reason: "" }),
    true,
    "close() without a code",
  );
  assert.equal(isDeliberateClose({ code: 1006, reason: "" }), false, "network drop");
  assert.equal(
    isDeliberateClose({ code: 1001, reason: "No response from ping frame." }),
    false,
    "ping timeout",
  );
  assert.equal(isDeliberateClose({ code: 0, reason: "" }), false, "Deno's close after an error");
});
