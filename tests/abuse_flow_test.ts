/**
 * Strangers, second round (issue 22), through the hub with fakes: what one
 * stranger — or forty addresses — can make the server do with passwords,
 * resumes, knocks and removal, and what honest people still get.
 * `adversarial_test.ts` runs the password attacks against a real server.
 */

import assert from "node:assert/strict";
import type { HubOptions } from "../lib/hub.ts";
import { HashQueue, type PasswordHashing, type PasswordRecord } from "../lib/password.ts";
import { frame, join, type Member, resumableHubFixture } from "./_helpers.ts";
import { until } from "./_wait.ts";

function send(m: Member, event: string, data: unknown) {
  m.session.receive(frame(event, data));
}

/** The error codes `m` was sent, with the refused event. */
function errors(m: Member): [string, string | undefined][] {
  return m.conn.frames("error").map((f) => [f.data.code, f.data.event]);
}

/**
 * Hashing the test holds in its hand: a hash is "computed" when the test
 * says so, and the queue refuses past `capacity`, as {@linkcode HashQueue} does.
 */
class HeldHashing implements PasswordHashing {
  readonly waiting: (() => void)[] = [];
  started = 0;
  constructor(readonly capacity: number) {}

  hash(password: string): Promise<PasswordRecord> | undefined {
    return this.#hold(() => ({ salt: `salt-${this.started}`, hash: password, iterations: 1 }));
  }

  verify(password: string, record: PasswordRecord): Promise<boolean> | undefined {
    return this.#hold(() => password === record.hash);
  }

  /** Finishes every hash started so far. */
  finishAll(): void {
    for (const done of this.waiting.splice(0)) done();
  }

  #hold<T>(result: () => T): Promise<T> | undefined {
    if (this.waiting.length >= this.capacity) return;
    this.started++;
    const value = result();
    return new Promise((resolve) => this.waiting.push(() => resolve(value)));
  }
}

/** A hub with held hashing; `hosts` rooms each with its host, password set. */
function setup(options: HubOptions = {}) {
  const hashing = new HeldHashing(4);
  const fixture = resumableHubFixture({ passwords: hashing, ...options });
  return { ...fixture, hashing };
}

Deno.test("Hub refuses password hashes past the queue with rate_limited, and others go on", async () => {
  const { connect, member, hashing } = setup();
  // Forty strangers host rooms of their own and each sets a password.
  const hosts = Array.from({ length: 40 }, (_, i) => {
    const m = connect(`10.0.${i}.1`);
    join(m.session, `own-${i}`);
    return m;
  });
  for (const h of hosts) {
    send(h, "setPassword", { channel: h.conn.frames("joined")[0].data.channel, password: "x" });
  }
  assert.equal(hashing.waiting.length, 4, "only the queue's four are hashing");
  const refused = hosts.filter((h) => errors(h).some(([code]) => code === "rate_limited"));
  assert.equal(refused.length, 36);
  assert.match(
    refused[0].conn.frames("error")[0].data.message,
    /busy checking passwords; try again in a moment/,
  );
  // Somebody else's join costs no hash and goes through meanwhile.
  const other = member("elsewhere");
  assert.equal(other.conn.frames("joined").length, 1);
  hashing.finishAll();
  await until(() => hosts[0].conn.frames("roomState").length > 0, "the first password set");
  assert.equal(hosts[0].conn.frames("roomState")[0].data.password, true);
});

Deno.test("Hub gives setPassword its own budget per connection", async () => {
  const { member, hashing } = setup({ setPasswordsPerMinute: 2 });
  const a = member();
  for (let i = 0; i < 4; i++) {
    send(a, "setPassword", { channel: "room", password: `pw${i}` });
    hashing.finishAll();
    await until(() => a.conn.frames("roomState").length + errors(a).length > i, `answer ${i}`);
  }
  assert.deepEqual(errors(a), [["rate_limited", "setPassword"], ["rate_limited", "setPassword"]]);
  assert.match(a.conn.frames("error")[0].data.message, /changed too often/);
  assert.equal(hashing.started, 2, "refused ones never hash");
});

Deno.test("Hub counts right-password joins against a connection's hash budget", async () => {
  const { member, connect, hashing } = setup({ hashesPerMinute: 3 });
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  hashing.finishAll();
  await until(() => a.conn.frames("roomState").length > 0, "the password set");
  // The same connection joins and parts with the right password again and again.
  const g = connect();
  for (let i = 0; i < 5; i++) {
    const [joins, refusals] = [g.conn.frames("joined").length, errors(g).length];
    send(g, "join", { channel: "room", userdata: {}, password: "right" });
    hashing.finishAll();
    await until(
      () => g.conn.frames("joined").length > joins || errors(g).length > refusals,
      `join ${i} answered`,
    );
    if (g.conn.frames("joined").length > joins) send(g, "part", { channel: "room" });
  }
  assert.equal(g.conn.frames("joined").length, 3, "three hashes a minute");
  assert.deepEqual(errors(g), [["rate_limited", "join"], ["rate_limited", "join"]]);
  assert.match(g.conn.frames("error")[0].data.message, /too many passwords checked/);
});

Deno.test("Hub shuts a room to newcomers after its wrong-password budget and tells its hosts once", async () => {
  const { connect, member, hashing } = setup({ passwordTriesPerRoom: 10 });
  const host = member();
  const guest = member();
  send(host, "setPassword", { channel: "room", password: "right" });
  hashing.finishAll();
  await until(() => guest.conn.frames("roomState").length > 0, "the password set");
  for (const m of [host, guest]) m.conn.take();
  // Forty addresses guess, two tries each.
  const guessers = Array.from({ length: 40 }, (_, i) => connect(`10.1.${i}.1`));
  for (const [i, g] of guessers.entries()) {
    for (let t = 0; t < 2; t++) {
      send(g, "join", { channel: "room", userdata: {}, password: `guess-${i}-${t}` });
      hashing.finishAll();
      await until(() => errors(g).length > t, `guess ${i}/${t} answered`);
    }
  }
  const codes = guessers.flatMap(errors).map(([code]) => code);
  assert.equal(codes.filter((c) => c === "wrong_password").length, 10, "the room's ten tries");
  assert.equal(codes.filter((c) => c === "rate_limited").length, 70);
  assert.equal(hashing.started, 1 + 10, "refused guesses cost no hash");
  const refusal = guessers[39].conn.frames("error").at(-1)!.data.message;
  assert.match(refusal, /many wrong passwords were tried for this room/);
  // The host hears it, once; the guest (no host) does not.
  assert.deepEqual(host.conn.frames("roomAlert"), [{
    event: "roomAlert",
    data: { channel: "room", alert: "wrong_passwords" },
  }]);
  assert.deepEqual(guest.conn.frames("roomAlert"), []);
  // A newcomer with the right password waits too…
  const late = connect("192.0.2.9");
  send(late, "join", { channel: "room", userdata: {}, password: "right" });
  assert.deepEqual(errors(late), [["rate_limited", "join"]]);
  // …but may knock, and a host may let them in.
  send(late, "knock", { channel: "room", userdata: { name: "Late" } });
  assert.equal(late.conn.frames("knocking").length, 1);
  send(host, "admit", { channel: "room", peer_id: late.id });
  assert.equal(late.conn.frames("joined").length, 1);
  // Positive control: another room's password is still checked.
  const other = member("other");
  send(other, "setPassword", { channel: "other", password: "pw" });
  hashing.finishAll();
  await until(() => other.conn.frames("roomState").length > 0, "the other password set");
  const friend = connect("192.0.2.10");
  send(friend, "join", { channel: "other", userdata: {}, password: "pw" });
  hashing.finishAll();
  await until(() => friend.conn.frames("joined").length > 0, "the friend's right password");
});

Deno.test("Hub counts an IPv6 /64 as one address for wrong passwords", async () => {
  const { connect, member, hashing } = setup({
    passwordTriesPerRoom: 1000,
    passwordTriesPerAddressPerRoom: 1000,
  });
  const host = member();
  send(host, "setPassword", { channel: "room", password: "right" });
  hashing.finishAll();
  await until(() => host.conn.frames("roomState").length > 0, "the password set");
  let wrong = 0;
  for (let i = 1; i <= 30; i++) {
    const g = connect(`2001:db8:5:6::${i.toString(16)}`);
    send(g, "join", { channel: "room", userdata: {}, password: "guess" });
    hashing.finishAll();
    await until(() => errors(g).length > 0, `guess ${i} answered`);
    if (errors(g)[0][0] === "wrong_password") wrong++;
  }
  assert.equal(wrong, 20, "the address budget of 20, for the whole /64");
  const elsewhere = connect("2001:db8:5:7::1");
  send(elsewhere, "join", { channel: "room", userdata: {}, password: "guess" });
  hashing.finishAll();
  await until(() => errors(elsewhere).length > 0, "the other /64 answered");
  assert.deepEqual(errors(elsewhere), [["wrong_password", "join"]], "another /64 has its own");
});

/** A new connection from `address` whose first frame resumes `token` into `channels`. */
function resumeFrom(
  connect: (address?: string) => Member,
  address: string,
  token: string,
  channels: string[],
): Member {
  const m = connect(address);
  send(m, "resume", { token, channels: channels.map((channel) => ({ channel, userdata: {} })) });
  return m;
}

/** The resume token `m` holds last (its `welcome`'s, or the newest `session`). */
function tokenOf(m: Member): string {
  return m.conn.frames("session").at(-1)?.data.resume_token ?? m.token;
}

Deno.test("Hub makes a resume's unknown rooms spend the join budget: a chain of resumes cannot scan", () => {
  const { connect, member } = setup({ joinBurst: 1, joinsPerMinute: 1 });
  const inside = member("occupied");
  inside.conn.take();
  // Positive control: with budget left, a resume into an open room is a newcomer's join.
  const x = connect("192.0.2.1");
  const control = resumeFrom(connect, "192.0.2.1", x.token, ["occupied"]);
  assert.deepEqual(control.conn.frames("resumed")[0].data.channels, ["occupied"]);
  assert.deepEqual(inside.conn.take().map((f) => f.data.peer_id), [x.id], "met as a newcomer");
  // The scanner's address spends its joins (ten connections' worth)…
  const probes = Array.from({ length: 11 }, (_, i) => {
    const c = connect("198.51.100.7");
    send(c, "join", { channel: `probe-${i}`, userdata: {} });
    return c;
  });
  assert.deepEqual(errors(probes[10]), [["rate_limited", "join"]]);
  // …then chains resumes, each listing names, the occupied one among them.
  let token = tokenOf(probes[10]);
  let tested = 0;
  for (let i = 0; i < 10; i++) {
    const next = resumeFrom(connect, "198.51.100.7", token, [`guess-${i}`, "occupied"]);
    tested += next.conn.frames("resumed")[0]?.data.channels.length ?? 0;
    assert.deepEqual(errors(next), [["rate_limited", "resume"], ["rate_limited", "resume"]]);
    token = tokenOf(next);
  }
  assert.equal(tested, 0, "no room name tested past the budget");
  assert.deepEqual(inside.conn.frames("addPeer"), [], "the member never met the scanner");
});

Deno.test("Hub rejoins a resume's known rooms past a spent join budget, and no others", () => {
  const { connect, member } = setup({ joinBurst: 1, joinsPerMinute: 1 });
  const a = connect("198.51.100.7");
  join(a.session, "room");
  const b = member();
  member("open-elsewhere");
  // The address spends the rest of its join budget.
  for (let i = 0; i < 12; i++) {
    send(connect("198.51.100.7"), "join", { channel: `elsewhere-${i}`, userdata: {} });
  }
  a.session.close({ deliberate: false });
  b.conn.take();
  const back = resumeFrom(connect, "198.51.100.7", a.token, ["room", "open-elsewhere"]);
  // Its own room comes back (known); the other is a newcomer's join, refused by the budget.
  assert.deepEqual(back.conn.frames("resumed")[0].data.channels, ["room"]);
  assert.deepEqual(errors(back), [["rate_limited", "resume"]]);
  assert.deepEqual(b.conn.take().map((f) => f.event), ["peerBack"]);
});

Deno.test("Hub applies the lock, password and removal to a resume's unknown rooms", async () => {
  const { member, connect, resume, hashing } = setup();
  const host = member("locked");
  send(host, "lock", { channel: "locked", locked: true });
  const pwHost = member("secret");
  send(pwHost, "setPassword", { channel: "secret", password: "pw" });
  hashing.finishAll();
  await until(() => pwHost.conn.frames("roomState").length > 0, "the password set");
  const removedHost = member("removal");
  const victim = connect();
  send(victim, "join", { channel: "removal", userdata: {}, browser: "browser-1" });
  send(removedHost, "remove", { channel: "removal", peer_id: victim.id });
  for (const m of [host, pwHost, removedHost]) m.conn.take();
  const stranger = connect();
  const tab = resume(stranger.token, [
    { channel: "locked", userdata: {} },
    { channel: "secret", userdata: {} },
  ]);
  assert.deepEqual(errors(tab), [["room_locked", "join"], ["password_required", "join"]]);
  const other = connect();
  const returning = connect();
  returning.session.receive(
    frame("resume", {
      token: other.token,
      channels: [{ channel: "removal", userdata: {} }],
      browser: "browser-1",
    }),
  );
  assert.deepEqual(errors(returning), [["room_locked", "join"]], "a removed browser knocks");
  for (const m of [host, pwHost, removedHost]) {
    assert.deepEqual(m.conn.frames("addPeer"), [], "no member met the intruder");
  }
});

Deno.test("Hub caps one address's knocks on a room and makes a denied knocker wait", () => {
  const { connect, member, clock } = setup({ knocksPerRoom: 3, deniedWaitMs: 60_000 });
  const host = member();
  send(host, "lock", { channel: "room", locked: true });
  const knockers = Array.from({ length: 5 }, () => connect("198.51.100.7"));
  for (const k of knockers) send(k, "knock", { channel: "room", userdata: { name: "K" } });
  assert.equal(knockers.filter((k) => k.conn.frames("knocking").length === 1).length, 3);
  assert.equal(host.conn.frames("knocks").at(-1)!.data.knocks.length, 3);
  // The real guest, from another address, still gets in line.
  const guest = connect("192.0.2.1");
  send(guest, "knock", { channel: "room", userdata: { name: "Guest" }, browser: "guest-b" });
  assert.equal(guest.conn.frames("knocking").length, 1);
  // Denied: knocking again at once is refused; for the browser from elsewhere too.
  send(host, "deny", { channel: "room", peer_id: guest.id });
  assert.equal(guest.conn.frames("denied").length, 1);
  send(guest, "knock", { channel: "room", userdata: { name: "Guest" }, browser: "guest-b" });
  assert.deepEqual(errors(guest), [["rate_limited", "knock"]]);
  const sameBrowser = connect("203.0.113.5");
  send(sameBrowser, "knock", { channel: "room", userdata: {}, browser: "guest-b" });
  assert.deepEqual(errors(sameBrowser), [["rate_limited", "knock"]]);
  // A minute later they may ask again.
  clock.ms += 60_000;
  send(guest, "knock", { channel: "room", userdata: { name: "Guest" }, browser: "guest-b" });
  assert.equal(guest.conn.frames("knocking").length, 2);
});

Deno.test("Hub removes every identity of the removed person's browser from the room", () => {
  const { member, connect } = setup();
  const host = member();
  const tab1 = connect();
  const tab2 = connect();
  const bystander = connect();
  send(tab1, "join", { channel: "room", userdata: {}, browser: "their-browser" });
  send(tab2, "join", { channel: "room", userdata: {}, browser: "their-browser" });
  send(bystander, "join", { channel: "room", userdata: {}, browser: "someone-else" });
  send(host, "remove", { channel: "room", peer_id: tab1.id });
  assert.equal(tab1.conn.closedWith?.code, 4003);
  assert.equal(tab2.conn.closedWith?.code, 4003, "the second tab goes too");
  assert.equal(bystander.conn.closedWith, undefined, "nobody else");
  const removed = bystander.conn.frames("removePeer").map((f) => f.data.peer_id).sort();
  assert.deepEqual(removed, [tab1.id, tab2.id].sort());
});

Deno.test("Hub spends no password try on a join its hash budget refused", async () => {
  const { member, connect, hashing, clock } = setup({
    hashesPerMinute: 1,
    passwordTriesPerConnection: 2,
    // The host's own hash must not be what runs out.
    setPasswordsPerMinute: 10,
  });
  const a = member();
  send(a, "setPassword", { channel: "room", password: "right" });
  hashing.finishAll();
  await until(() => a.conn.frames("roomState").length > 0, "the password set");
  const g = connect();
  const guess = async (what: string) => {
    const before = errors(g).length;
    send(g, "join", { channel: "room", userdata: {}, password: "wrong" });
    hashing.finishAll();
    await until(() => errors(g).length > before, what);
    return g.conn.frames("error").at(-1)!.data.message as string;
  };
  assert.match(await guess("first guess"), /: wrong password$/);
  assert.match(await guess("second, past the hash budget"), /too many passwords checked/);
  clock.ms += 60_000;
  assert.match(await guess("third"), /: wrong password$/, "the refused one left its try");
  clock.ms += 60_000;
  assert.match(await guess("fourth"), /too many wrong passwords/, "two tries, two used");
});

Deno.test("Hub lets one address spend only its share of a room's wrong-password budget", async () => {
  const { connect, member, hashing } = setup();
  const host = member();
  send(host, "setPassword", { channel: "room", password: "right" });
  hashing.finishAll();
  await until(() => host.conn.frames("roomState").length > 0, "the password set");
  // One patient address guesses with four connections, five tries each.
  const codes: string[] = [];
  for (let c = 0; c < 4; c++) {
    const g = connect("203.0.113.9");
    for (let t = 0; t < 5; t++) {
      send(g, "join", { channel: "room", userdata: {}, password: `guess-${c}-${t}` });
      hashing.finishAll();
      await until(() => errors(g).length > t, `guess ${c}/${t} answered`);
    }
    codes.push(...errors(g).map(([code]) => code));
  }
  assert.equal(codes.filter((c) => c === "wrong_password").length, 5, "the address's share");
  assert.deepEqual(host.conn.frames("roomAlert"), [], "the room's budget is not spent");
  // So an honest newcomer from elsewhere still gets in with the password.
  const friend = connect("192.0.2.10");
  send(friend, "join", { channel: "room", userdata: {}, password: "right" });
  hashing.finishAll();
  await until(() => friend.conn.frames("joined").length > 0, "the friend joined");
});

Deno.test("Hub gives one network at most two places in the hashing queue, and returns a refused hash", async () => {
  const hashing = new HeldHashing(8);
  // The real queue's fairness, with the test holding the hashes.
  const queue = new HashQueue({ concurrency: 1, maxQueued: 8, maxPerGroup: 2, iterations: 1 });
  const passwords: PasswordHashing = {
    hash: (password, group) => queue.hash(password, group) && hashing.hash(password),
    verify: (password, record, group) =>
      queue.verify(password, record, group) && hashing.verify(password, record),
  };
  const { connect } = resumableHubFixture({ passwords, hashesPerMinute: 3 });
  // Hosts on five /64s of one /48 set passwords at once.
  const hosts = Array.from({ length: 5 }, (_, i) => {
    const m = connect(`2001:db8:1:${i + 1}::1`);
    join(m.session, `own-${i}`);
    return m;
  });
  for (const [i, h] of hosts.entries()) {
    send(h, "setPassword", { channel: `own-${i}`, password: "x" });
  }
  const busy = hosts.filter((h) => errors(h).some(([code]) => code === "rate_limited"));
  assert.equal(busy.length, 3, "two places for the /48, the rest refused");
  // Somebody on another network still gets a place.
  const other = connect("192.0.2.77");
  join(other.session, "theirs");
  send(other, "setPassword", { channel: "theirs", password: "x" });
  assert.deepEqual(errors(other), []);
  // A refusal for a full queue spent no hash from the connection's budget: three more tries fit.
  const refused = busy[0];
  hashing.finishAll();
  await until(() => queue.pending === 0, "the queue drained");
  const channel = `own-${hosts.indexOf(refused)}`;
  for (let i = 0; i < 3; i++) {
    send(refused, "setPassword", { channel, password: `y${i}` });
    hashing.finishAll();
    await until(() => queue.pending === 0, "hashed");
  }
  assert.equal(errors(refused).length, 1, "only the first (busy) refusal");
});

Deno.test("Hub makes a knocker denied while away wait too", () => {
  const { connect, member, clock } = setup({ deniedWaitMs: 60_000 });
  const host = member();
  send(host, "lock", { channel: "room", locked: true });
  const kim = connect("203.0.113.5");
  send(kim, "knock", { channel: "room", userdata: { name: "Kim" }, browser: "kim-b" });
  kim.session.close({ deliberate: false });
  send(host, "deny", { channel: "room", peer_id: kim.id });
  const again = connect("203.0.113.5");
  send(again, "knock", { channel: "room", userdata: { name: "Kim" }, browser: "kim-b" });
  assert.deepEqual(errors(again), [["rate_limited", "knock"]]);
  clock.ms += 60_000;
  send(again, "knock", { channel: "room", userdata: { name: "Kim" }, browser: "kim-b" });
  assert.equal(again.conn.frames("knocking").length, 1);
});

Deno.test("Hub lets a host close a tab of their own browser without shutting that browser out", () => {
  const { connect } = setup();
  const host = connect();
  send(host, "join", { channel: "room", userdata: {}, browser: "host-b" });
  const tab = connect();
  send(tab, "join", { channel: "room", userdata: {}, browser: "host-b" });
  send(host, "remove", { channel: "room", peer_id: tab.id });
  assert.equal(tab.conn.closedWith?.code, 4003);
  assert.equal(host.conn.closedWith, undefined, "the host stays");
  const later = connect();
  send(later, "join", { channel: "room", userdata: {}, browser: "host-b" });
  assert.equal(later.conn.frames("joined").length, 1, "the host's browser may come back");
});
