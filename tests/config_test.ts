import assert from "node:assert/strict";
import { parseConfig } from "../lib/config.ts";

Deno.test("parseConfig uses documented defaults with an empty environment", () => {
  const config = parseConfig([], {});
  assert.equal(config.port, 8000);
  assert.equal(config.host, "0.0.0.0");
  assert.deepEqual(config.iceServers, [{ urls: "stun:stun.l.google.com:19302" }]);
  assert.equal(config.maxPeersPerChannel, 8);
  assert.equal(config.maxMessageBytes, 65536);
  assert.deepEqual(config.allowedOrigins, []);
  assert.equal(config.logLevel, "info");
  assert.equal(config.tlsCert, undefined);
});

Deno.test("parseConfig reads the environment and lets flags override it", () => {
  const config = parseConfig(["--port", "9001", "--log-level=debug"], {
    PORT: "1234",
    ICE_SERVERS: '[{"urls":["turn:t.example:3478"],"username":"u","credential":"c"}]',
    ALLOWED_ORIGINS: "https://a.example, http://b.example:8080",
    MAX_PEERS_PER_CHANNEL: "4",
  });
  assert.equal(config.port, 9001);
  assert.equal(config.logLevel, "debug");
  assert.deepEqual(config.iceServers, [{
    urls: ["turn:t.example:3478"],
    username: "u",
    credential: "c",
  }]);
  assert.deepEqual(config.allowedOrigins, [
    "https://a.example",
    "http://b.example:8080",
  ]);
  assert.equal(config.maxPeersPerChannel, 4);
  assert.equal(
    parseConfig([], { PUBLIC_ORIGIN: "https://meet.example.org/" }).publicOrigin,
    "https://meet.example.org",
  );
});

Deno.test("parseConfig accepts an empty ICE server list", () => {
  assert.deepEqual(parseConfig([], { ICE_SERVERS: "[]" }).iceServers, []);
});

Deno.test("parseConfig names the variable in every error", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "http" }, /Invalid PORT "http"/],
    [{ PORT: "70000" }, /Invalid PORT/],
    [{ MAX_PEERS_PER_CHANNEL: "1" }, /Invalid MAX_PEERS_PER_CHANNEL/],
    [{ MAX_MESSAGE_BYTES: "-5" }, /Invalid MAX_MESSAGE_BYTES/],
    [{ ICE_SERVERS: "stun:x" }, /Invalid ICE_SERVERS: not JSON/],
    [{ ICE_SERVERS: "{}" }, /Invalid ICE_SERVERS: expected a JSON array/],
    [{ ICE_SERVERS: '[{"urls":"http://x"}]' }, /Invalid ICE_SERVERS\[0\]/],
    [
      { ALLOWED_ORIGINS: "example.com" },
      /Invalid ALLOWED_ORIGINS entry "example.com"/,
    ],
    [{ ALLOWED_ORIGINS: "https://a.example/path" }, /Invalid ALLOWED_ORIGINS/],
    [{ PUBLIC_ORIGIN: "meet.example.org" }, /Invalid PUBLIC_ORIGIN/],
    [{ PUBLIC_ORIGIN: "https://a.example,https://b.example" }, /Invalid PUBLIC_ORIGIN/],
    [{ LOG_LEVEL: "loud" }, /Invalid LOG_LEVEL "loud"/],
    [{ TLS_CERT: "cert.pem" }, /TLS_CERT\/TLS_KEY: set both/],
    [{ HOST: " " }, /Invalid HOST/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => parseConfig([], env), pattern, JSON.stringify(env));
  }
});

Deno.test("parseConfig refuses unknown and incomplete flags", () => {
  assert.throws(
    () => parseConfig(["--prot", "1"], {}),
    /Unknown argument "--prot"/,
  );
  assert.throws(() => parseConfig(["--port"], {}), /Missing value for --port/);
});

Deno.test("parseConfig reads the caps, the metrics token and the source-map switch", () => {
  const config = parseConfig(["--source-map=true"], {
    MAX_CONNECTIONS_PER_ADDRESS: "7",
    TRUST_PROXY: "yes",
    METRICS_TOKEN: "t".repeat(32),
  });
  assert.equal(config.maxConnectionsPerAddress, 7);
  assert.equal(config.trustProxy, true);
  assert.equal(config.metricsToken, "t".repeat(32));
  assert.equal(config.sourceMap, true);
  const defaults = parseConfig([], {});
  assert.equal(defaults.sourceMap, false);
  assert.equal(defaults.maxConnections, 10_000);
  assert.throws(() => parseConfig([], { TRUST_PROXY: "maybe" }), /Invalid TRUST_PROXY/);
});

Deno.test("parseConfig reads the TURN credential budget and the hashing concurrency", () => {
  const defaults = parseConfig([], {});
  assert.equal(defaults.turnCredentialsPerHour, 10);
  assert.equal(defaults.passwordHashConcurrency, 1);
  const set = parseConfig([], { TURN_CREDENTIALS_PER_HOUR: "200", PASSWORD_HASH_CONCURRENCY: "3" });
  assert.equal(set.turnCredentialsPerHour, 200);
  assert.equal(set.passwordHashConcurrency, 3);
  assert.throws(
    () => parseConfig([], { PASSWORD_HASH_CONCURRENCY: "0" }),
    /PASSWORD_HASH_CONCURRENCY/,
  );
  assert.throws(
    () => parseConfig([], { TURN_CREDENTIALS_PER_HOUR: "x" }),
    /TURN_CREDENTIALS_PER_HOUR/,
  );
});
