import assert from "node:assert/strict";
import { parseConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { IceIssuer, turnCredential } from "../lib/turn.ts";
import { type BudgetStore, LocalBudgets } from "../lib/rate_limit.ts";
import { frame, join, type Member, resumableHubFixture } from "./_helpers.ts";
import { until } from "./_wait.ts";

const TURN = {
  secret: "coturn-static-auth-secret",
  urls: ["turn:127.0.0.1:3478"],
  ttlSeconds: 600,
};
const STUN = { urls: "stun:stun.example.org:3478" };
const START_MS = 1_700_000_000_000;

/** HMAC-SHA1 through WebCrypto: an independent check of the minted credential. */
async function expectedCredential(secret: string, username: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username));
  return btoa(String.fromCharCode(...new Uint8Array(mac)));
}

Deno.test("turnCredential follows the TURN REST API: <expiry>:<id>, base64 HMAC-SHA1", async () => {
  const { username, credential } = turnCredential("s3cret", { expiresAtS: 1700003600, id: "abc" });
  assert.equal(username, "1700003600:abc");
  assert.equal(credential, await expectedCredential("s3cret", username));
  assert.notEqual(credential, await expectedCredential("other", username), "the secret matters");
});

Deno.test("IceIssuer mints a fresh, expiring credential per call and keeps credentials out of the public list", async () => {
  let now = START_MS;
  const fixed = { urls: "turn:fixed.example.org", username: "u", credential: "c" };
  const issuer = new IceIssuer([STUN, fixed], { turn: TURN, now: () => now });
  assert.deepEqual(issuer.public, [STUN], "no entry with credentials before joining");
  const first = issuer.issue();
  assert.equal(first.expiresAt, START_MS + 600_000);
  const turn = first.iceServers.at(-1)!;
  assert.deepEqual(turn.urls, TURN.urls);
  assert.match(turn.username!, /^1700000600:[0-9a-f]{32}$/);
  assert.equal(turn.credential, await expectedCredential(TURN.secret, turn.username!));
  assert.deepEqual(first.iceServers.slice(0, 2), [STUN, fixed]);
  now += 1000;
  const second = issuer.issue();
  assert.notEqual(second.iceServers.at(-1)!.username, turn.username, "a new opaque id each time");
  assert.equal(second.expiresAt, START_MS + 601_000);
  // Without TURN settings: the configured list, nothing expires.
  const plain = new IceIssuer([STUN]).issue();
  assert.deepEqual(plain, { iceServers: [STUN], expiresAt: Infinity });
});

Deno.test("parseConfig reads the TURN settings and stops on each misconfiguration, naming it", () => {
  const config = parseConfig([], {
    TURN_SECRET: "s",
    TURN_URLS: "turn:a.example:3478?transport=udp, turns:a.example:443?transport=tcp",
    TURN_TTL: "3600",
    ICE_TRANSPORT_POLICY: "relay",
  });
  assert.deepEqual(config.turn, {
    secret: "s",
    urls: ["turn:a.example:3478?transport=udp", "turns:a.example:443?transport=tcp"],
    ttlSeconds: 3600,
  });
  assert.equal(config.iceTransportPolicy, "relay");
  const defaults = parseConfig([], {});
  assert.equal(defaults.turn, undefined);
  assert.equal(defaults.iceTransportPolicy, "all");
  assert.equal(
    parseConfig([], { TURN_SECRET: "s", TURN_URLS: "turn:a" }).turn?.ttlSeconds,
    3600,
    "an hour by default: renewal makes it invisible in a call",
  );

  const refused: [Record<string, string>, RegExp][] = [
    [{ TURN_URLS: "turn:a.example" }, /TURN_URLS.*TURN_SECRET/],
    [{ TURN_SECRET: "s" }, /TURN_SECRET.*TURN_URLS/],
    [{ TURN_SECRET: "s", TURN_URLS: "stun:a.example" }, /TURN_URLS "stun:a.example"/],
    [{ TURN_SECRET: "s", TURN_URLS: "turn:a, http://b" }, /TURN_URLS "http:\/\/b"/],
    [{ TURN_SECRET: "s", TURN_URLS: "turn:a", TURN_TTL: "59" }, /TURN_TTL "59"/],
    [{ ICE_TRANSPORT_POLICY: "none" }, /ICE_TRANSPORT_POLICY "none"/],
  ];
  for (const [env, message] of refused) {
    assert.throws(() => parseConfig([], env), message, JSON.stringify(env));
  }
});

/** The TURN entries (minted credentials) among `servers`. */
function minted(servers: { username?: string }[] | undefined) {
  return (servers ?? []).filter((s) => s.username !== undefined);
}

Deno.test("Hub gives TURN credentials only to members with someone to relay to", () => {
  const { connect, member } = resumableHubFixture({
    iceServers: [STUN],
    turn: TURN,
    iceTransportPolicy: "relay",
  });
  const ann = connect();
  assert.deepEqual(ann.welcome.ice_servers, [STUN]);
  join(ann.session, "room", { name: "Ann" });
  const alone = ann.conn.take().find((f) => f.event === "joined")!.data;
  assert.equal(alone.ice_transport_policy, "relay");
  assert.deepEqual(alone.ice_servers, [STUN], "alone in a room: nobody to relay to, no credential");

  // A second member: both may now need the relay.
  const bob = member();
  const joined = bob.conn.frames("joined")[0].data;
  assert.equal(joined.ice_servers.length, 2);
  assert.deepEqual(joined.ice_servers[0], STUN);
  assert.match(joined.ice_servers[1].username, /^\d+:[0-9a-f]{32}$/);
  const annIce = ann.conn.frames("iceServers");
  assert.equal(annIce.length, 1, "the one already inside gets hers now");
  assert.equal(minted(annIce[0].data.ice_servers).length, 1);
  assert.equal(annIce[0].data.ice_transport_policy, "relay");
  assert.deepEqual(
    ann.conn.frames().map((f) => f.event),
    ["addPeer", "iceServers"],
    "after the addPeer, before any offer",
  );
  // A third: only the newcomer is minted one; the others keep theirs.
  const cid = member();
  assert.equal(minted(cid.conn.frames("joined")[0].data.ice_servers).length, 1);
  assert.equal(ann.conn.frames("iceServers").length, 1);
  assert.equal(bob.conn.frames("iceServers").length, 0);

  // A locked room: the knocker is told to wait and gets no credential.
  ann.session.receive(frame("lock", { channel: "room", locked: true }));
  const kim = connect();
  kim.session.receive(frame("knock", { channel: "room", userdata: { name: "Kim" } }));
  const seen = JSON.stringify(kim.conn.frames());
  assert.match(seen, /knocking/);
  assert.doesNotMatch(seen, /username|credential/);
  // Nor does anyone joining an unused room name (a stranger after a relay).
  const stranger = member("unused-name");
  assert.doesNotMatch(JSON.stringify(stranger.conn.frames()), /username|credential/);
});

Deno.test("Hub mints at most turnCredentialsPerHour TURN credentials per address", () => {
  const { hub, clock, connect } = resumableHubFixture({
    iceServers: [],
    turn: TURN,
    turnCredentialsPerHour: 4,
  });
  // One address holds pairs in rooms of its own: 6 pairs, 12 members.
  const credentials = [];
  const members: Member[] = [];
  for (let i = 0; i < 6; i++) {
    const a = connect("198.51.100.7");
    const b = connect("198.51.100.7");
    members.push(a, b);
    join(a.session, `r${i}`);
    join(b.session, `r${i}`);
    credentials.push(...a.conn.frames("iceServers").map((f) => f.data.ice_servers));
    credentials.push(...b.conn.frames("joined").map((f) => f.data.ice_servers));
  }
  assert.equal(credentials.flatMap(minted).length, 4, "four credentials, then none");
  // Another address is not held back by it (positive control).
  const c = connect("192.0.2.1");
  const d = connect("192.0.2.1");
  join(c.session, "mine");
  join(d.session, "mine");
  assert.equal(minted(d.conn.frames("joined")[0].data.ice_servers).length, 1);
  // An hour later (every credential expired) the address has its budget
  // again: four of its members get one, the others wait their turn.
  for (const m of [...members, c, d]) m.conn.take();
  clock.ms += 3_601_000;
  hub.tick();
  const served = (list: Member[]) =>
    list.filter((m) => minted(m.conn.frames("iceServers")[0]?.data.ice_servers).length > 0);
  assert.equal(served(members).length, 4);
  assert.equal(served([c, d]).length, 2, "the other address's members, from their own budget");
});

Deno.test("Hub renews a member's TURN credential before it expires, and keeps it across a resume", () => {
  const { hub, clock, connect, resume, member } = resumableHubFixture({
    iceServers: [],
    turn: TURN,
  });
  const ann = connect();
  join(ann.session, "room", { name: "Ann" });
  const bob = member();
  const first = ann.conn.frames("iceServers")[0].data.ice_servers[0];
  ann.conn.take();
  // 600 s credentials are renewed in their last fifth (from 480 s on), not before.
  clock.ms = START_MS + 479_000;
  hub.tick();
  assert.deepEqual(ann.conn.frames("iceServers"), [], "too early to renew");
  clock.ms = START_MS + 481_000;
  hub.tick();
  const renewed = ann.conn.frames("iceServers");
  assert.equal(renewed.length, 1);
  const next = renewed[0].data.ice_servers[0];
  assert.notEqual(next.username, first.username);
  assert.equal(Number(next.username.split(":")[0]), (START_MS + 481_000) / 1000 + 600);
  hub.tick();
  assert.equal(ann.conn.frames("iceServers").length, 1, "renewed once, not every tick");

  // A drop and a resume: the client kept its configuration, so nothing is
  // minted, and renewal goes on on the new connection.
  const token = ann.conn.frames("session").at(-1)!.data.resume_token;
  ann.session.close({ deliberate: false });
  const back = resume(token);
  assert.deepEqual(back.conn.frames("iceServers"), [], "still valid: not re-minted");
  clock.ms = START_MS + 481_000 + 481_000;
  hub.tick();
  assert.equal(back.conn.frames("iceServers").length, 1, "renewed on the new connection");
  back.conn.take();

  // Alone again (Bob left): no renewal, nobody to relay to.
  bob.session.close();
  back.conn.take();
  clock.ms = START_MS + 2_000_000;
  hub.tick();
  assert.deepEqual(back.conn.frames("iceServers"), []);
});

Deno.test("Hub never writes a TURN credential to its log", () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  const { connect, member } = resumableHubFixture({ iceServers: [], turn: TURN, logger });
  const ann = connect();
  join(ann.session, "room", { name: "Ann" });
  member();
  const { username, credential } = ann.conn.frames("iceServers")[0].data.ice_servers[0];
  assert.ok(lines.length > 0, "the hub did log (debug)");
  for (const line of lines) {
    assert.ok(!line.includes(credential) && !line.includes(username), line);
  }
});

Deno.test("Hub charges a member's address once however often visitors come and go", () => {
  const { hub, clock, connect } = resumableHubFixture({
    iceServers: [],
    turn: TURN,
    turnCredentialsPerHour: 3,
  });
  const ann = connect("198.51.100.7");
  join(ann.session, "room");
  for (let i = 0; i < 6; i++) {
    const visitor = connect(`192.0.2.${i + 1}`);
    join(visitor.session, "room");
    visitor.session.close();
    clock.ms += 1000;
    hub.tick();
  }
  assert.equal(ann.conn.frames("iceServers").length, 1, "one credential, kept while valid");
  // Her colleague from the same address still gets one (the budget was not drained).
  const colleague = connect("198.51.100.7");
  join(colleague.session, "room");
  assert.equal(minted(colleague.conn.frames("joined")[0].data.ice_servers).length, 1);
});

Deno.test("Hub asks again a minute after a refused TURN budget, while there is company", () => {
  const { hub, clock, connect } = resumableHubFixture({
    iceServers: [],
    turn: TURN,
    turnCredentialsPerHour: 1,
  });
  const ann = connect("198.51.100.7");
  const bob = connect("198.51.100.7");
  join(ann.session, "room");
  join(bob.session, "room");
  assert.equal(minted(bob.conn.frames("joined")[0].data.ice_servers).length, 1, "Bob got one");
  assert.equal(ann.conn.frames("iceServers").length, 0, "the address had no other for Ann");
  clock.ms += 59_000;
  hub.tick();
  assert.equal(ann.conn.frames("iceServers").length, 0, "not asked again before a minute");
  clock.ms += 3_600_000;
  hub.tick();
  assert.equal(minted(ann.conn.frames("iceServers")[0]?.data.ice_servers).length, 1, "then yes");
});

Deno.test("Hub mints once for a join whose budget answers later (counted in Redis)", async () => {
  const local = new LocalBudgets();
  let takes = 0;
  const budgets: BudgetStore = {
    take: (budget, key, now) => {
      if (budget.name === "address-turn") takes++;
      return Promise.resolve(local.take(budget, key, now));
    },
    giveBack: (budget, key) => local.giveBack(budget, key),
    drain: (budget, key, now) => local.drain(budget, key, now),
    peek: (budget, key, now) => Promise.resolve(local.peek(budget, key, now)),
    sweep: (now) => local.sweep(now),
  };
  const { connect } = resumableHubFixture({ iceServers: [], turn: TURN, budgets });
  const ann = connect("198.51.100.7");
  const bob = connect("198.51.100.8");
  ann.session.receive(frame("join", { channel: "room", userdata: {} }));
  await until(() => ann.conn.frames("joined").length === 1, "Ann joined");
  bob.session.receive(frame("join", { channel: "room", userdata: {} }));
  await until(() => bob.conn.frames("joined").length === 1, "Bob joined");
  await until(
    () => ann.conn.frames("iceServers").length === 1 && bob.conn.frames("iceServers").length === 1,
    "both credentials, each in iceServers once the budget answered",
  );
  assert.equal(minted(bob.conn.frames("joined")[0].data.ice_servers).length, 0);
  assert.equal(takes, 2, "one budget take each");
  assert.equal(bob.conn.frames("iceServers").length, 1);
});
