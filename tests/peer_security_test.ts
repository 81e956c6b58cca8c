import assert from "node:assert/strict";
import {
  type CodeState,
  MAX_ROUNDS,
  PeerSecurity,
  SAS_TIMEOUT_MS,
} from "../client/peer_security.ts";
import { PinnedCodes } from "../client/pinned_codes.ts";
import { SAS_FAILURE } from "../client/sas_exchange.ts";
import { fromHex, sha256, toHex } from "../client/_bytes.ts";
import { isSecurityCode, securityCode } from "../client/security_code.ts";
import { FakeTextStorage } from "./_fake_storage.ts";
import { ManualTimers, until } from "./_wait.ts";

function fingerprint(byte: number): string {
  const pair = byte.toString(16).padStart(2, "0").toUpperCase();
  return `sha-256 ${`${pair}:`.repeat(31)}${pair}`;
}

/** One side of a connection: its security, what it reported, and its certificates. */
interface Side {
  security: PeerSecurity;
  states: CodeState[];
  sent: string[];
  timers: ManualTimers;
  fingerprints: { local: string[] | null; remote: string[] | null };
}

/**
 * Two sides whose messages cross in later tasks, as on a data channel;
 * `relay` may drop or change a message on its way.
 */
function pair(
  { relay = (data: string) => data as string | null }: {
    relay?: (data: string, from: "initiator" | "responder") => string | null;
  } = {},
): { alice: Side; bob: Side } {
  const a = fingerprint(0xa1);
  const b = fingerprint(0xb2);
  const storage = { alice: new FakeTextStorage(), bob: new FakeTextStorage() };
  const make = (initiator: boolean, local: string, remote: string): Side => {
    const side: Side = {
      states: [],
      sent: [],
      timers: new ManualTimers(),
      fingerprints: { local: [local], remote: [remote] },
      security: null as unknown as PeerSecurity,
    };
    side.security = new PeerSecurity({
      initiator,
      send: (data) => {
        side.sent.push(data);
        const passed = relay(data, initiator ? "initiator" : "responder");
        if (passed === null) return;
        setTimeout(() => (initiator ? bob : alice).security.receive(passed), 0);
      },
      fingerprints: () => side.fingerprints,
      pins: new PinnedCodes(initiator ? storage.alice : storage.bob),
      onChange: (state) => side.states.push(state),
      timers: side.timers,
    });
    return side;
  };
  const alice = make(true, a, b);
  const bob = make(false, b, a);
  return { alice, bob };
}

/** The side's latest state, without the details of a code (checked on their own). */
function last(side: Side): CodeState | Record<string, unknown> | undefined {
  const state = side.states.at(-1);
  if (state?.state !== "code") return state;
  const { details: _, ...rest } = state;
  return rest;
}

Deno.test("PeerSecurity gives both sides the same code once the initiator's connection is up", async () => {
  const { alice, bob } = pair();
  bob.security.connected();
  alice.security.connected();
  assert.deepEqual(last(alice), undefined, "pending is the starting state: no change reported");
  await until(
    () => last(alice)?.state === "code" && last(bob)?.state === "code",
    "both sides to have a code",
  );
  const code = (last(alice) as { code: string }).code;
  assert.ok(isSecurityCode(code));
  assert.deepEqual(last(bob), { state: "code", code });
  assert.deepEqual(alice.sent.map((m) => JSON.parse(m).type), ["sas-commit", "sas-reveal"]);
  // The details are what the code was derived from, mirrored on the other side.
  const mine = (alice.states.at(-1) as Extract<CodeState, { state: "code" }>).details;
  const theirs = (bob.states.at(-1) as Extract<CodeState, { state: "code" }>).details;
  assert.deepEqual(mine.local, theirs.remote);
  assert.deepEqual(mine.remote, theirs.local);
  assert.equal(mine.localValue, theirs.remoteValue);
  assert.equal(mine.remoteValue, theirs.localValue);
  assert.equal(
    await securityCode({
      local: mine.local,
      remote: mine.remote,
      localValue: fromHex(mine.localValue)!,
      remoteValue: fromHex(mine.remoteValue)!,
    }),
    code,
  );
  assert.deepEqual(bob.sent.map((m) => JSON.parse(m).type), ["sas-value"]);
  // Neither timer stays armed once there is a code.
  assert.equal(alice.timers.pending.size, 0);
  assert.equal(bob.timers.pending.size, 0);
});

Deno.test("PeerSecurity runs a new round on reconnection and keeps the pinned code", async () => {
  const { alice, bob } = pair();
  alice.security.connected();
  await until(() => last(bob)?.state === "code", "the first code");
  const first = (last(bob) as { code: string }).code;
  // Back after an ICE restart: pending, then the same code again (pinned for these certificates).
  alice.security.connected();
  assert.deepEqual(last(alice), { state: "pending" });
  await until(() => alice.sent.length === 4 && last(alice)?.state === "code", "a second round");
  assert.deepEqual(last(alice), { state: "code", code: first });
  await until(
    () => bob.sent.length === 2 && last(bob)?.state === "code",
    "bob's code from the second round",
  );
  assert.deepEqual(last(bob), { state: "code", code: first });
  assert.deepEqual(bob.states.map((s) => s.state), ["code", "pending", "code"]);
});

Deno.test("PeerSecurity shows a new code when the remote certificate changes", async () => {
  const { alice, bob } = pair();
  alice.security.connected();
  await until(() => last(bob)?.state === "code", "the first code");
  const first = (last(bob) as { code: string }).code;
  alice.fingerprints.remote = [fingerprint(0xc3)];
  bob.fingerprints.local = [fingerprint(0xc3)];
  alice.security.connected();
  await until(
    () => bob.sent.length === 2 && last(bob)?.state === "code" && last(alice)?.state === "code",
    "a second code on both sides",
  );
  const second = (last(bob) as { code: string }).code;
  assert.notEqual(second, first);
  assert.deepEqual(last(alice), { state: "code", code: second });
});

Deno.test("PeerSecurity fails when the exchange gets no answer in time, and never shows a late code", async () => {
  let hold: (() => void)[] | null = [];
  const { alice, bob } = pair({
    relay: (data, from) => {
      if (from === "responder" && hold !== null) {
        hold.push(() => void alice.security.receive(data));
        return null;
      }
      return data;
    },
  });
  alice.security.connected();
  await until(() => hold!.length === 1, "bob's answer to be held back");
  assert.equal(alice.timers.pending.size, 1);
  assert.equal([...alice.timers.pending.values()][0].ms, SAS_TIMEOUT_MS);
  alice.timers.fire();
  assert.deepEqual(last(alice), { state: "failed", reason: SAS_FAILURE });
  const release = hold!;
  hold = null;
  for (const deliver of release) deliver();
  await until(() => bob.sent.length === 1, "the held answer to be delivered");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(last(alice), { state: "failed", reason: SAS_FAILURE });
  // Positive control: the next round, undisturbed, gives a code.
  alice.security.connected();
  await until(() => last(alice)?.state === "code", "a code from the next round");
  bob.security.close();
});

Deno.test("PeerSecurity on the answering side fails if no commitment ever comes (an older client)", () => {
  const { bob } = pair();
  bob.security.connected();
  assert.equal(bob.timers.pending.size, 1);
  bob.timers.fire();
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
});

Deno.test("PeerSecurity reports a tampered reveal as a failure, with no code", async () => {
  const { alice, bob } = pair({
    relay: (data) => {
      const message = JSON.parse(data);
      if (message.type !== "sas-reveal") return data;
      return JSON.stringify({ ...message, value: "0".repeat(64) });
    },
  });
  alice.security.connected();
  await until(() => last(bob) !== undefined, "bob to finish");
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
});

Deno.test("PeerSecurity fails at once without fingerprints, and passes other messages on", () => {
  const { alice } = pair();
  alice.fingerprints.remote = null;
  alice.security.connected();
  assert.deepEqual(last(alice), { state: "failed", reason: SAS_FAILURE });
  assert.equal(alice.sent.length, 0);
  assert.equal(alice.security.receive(JSON.stringify({ type: "chat", text: "hi" })), false);
  assert.equal(alice.security.receive(JSON.stringify({ type: "sas-reveal", value: "x" })), true);
});

Deno.test("PeerSecurity on the answering side drops its code on reconnection with other fingerprints and fails if no commitment comes", async () => {
  const { alice, bob } = pair();
  alice.security.connected();
  await until(() => last(bob)?.state === "code", "bob's first code");
  // Back up on the same certificates (a late connection event, an ICE restart): DTLS checked
  // them, so the code stands (positive control).
  bob.security.connected();
  assert.equal(last(bob)?.state, "code");
  assert.equal(bob.timers.pending.size, 0);
  // Back up now ending at a relay's certificate that never commits: the old code does not stand.
  bob.fingerprints.remote = [fingerprint(0xee)];
  bob.security.connected();
  assert.deepEqual(last(bob), { state: "pending" });
  assert.equal(bob.timers.pending.size, 1);
  bob.timers.fire();
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
  // A failed side waits again at the next connection-up, and a commitment in time gives a code.
  bob.fingerprints.remote = [fingerprint(0xa1)];
  bob.security.connected();
  assert.deepEqual(last(bob), { state: "pending" });
  alice.security.connected();
  await until(() => last(bob)?.state === "code", "bob's code after the commitment came");
});

Deno.test("PeerSecurity drops the code when a renegotiation changes the fingerprints, on both sides", async () => {
  const { alice, bob } = pair({
    relay: (data, from) => (from === "initiator" && blocked ? null : data),
  });
  let blocked = false;
  alice.security.connected();
  await until(() => last(bob)?.state === "code" && last(alice)?.state === "code", "a code");
  // A renegotiation that keeps the certificates changes nothing (positive control).
  bob.security.negotiated();
  alice.security.negotiated();
  assert.equal(last(bob)?.state, "code");
  assert.equal(bob.timers.pending.size, 0);
  // The relay renegotiates with its own certificate and never commits.
  blocked = true;
  bob.fingerprints.remote = [fingerprint(0xee)];
  bob.security.negotiated();
  assert.deepEqual(last(bob), { state: "pending" });
  assert.equal(bob.timers.pending.size, 1);
  bob.timers.fire();
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
  // The offering side starts a new round of its own when its fingerprints change.
  alice.fingerprints.remote = [fingerprint(0xef)];
  const sent = alice.sent.length;
  alice.security.negotiated();
  assert.deepEqual(last(alice), { state: "pending" });
  await until(() => alice.sent.length === sent + 1, "alice's new commitment");
  assert.equal(JSON.parse(alice.sent.at(-1)!).type, "sas-commit");
});

Deno.test("PeerSecurity fails a round whose fingerprints changed before it ended", async () => {
  let held: (() => void) | null = null;
  const { alice, bob } = pair({
    relay: (data) => {
      if (JSON.parse(data).type !== "sas-reveal") return data;
      held = () => void bob.security.receive(data);
      return null;
    },
  });
  alice.security.connected();
  await until(() => held !== null, "alice's reveal to be held back");
  bob.fingerprints.remote = [fingerprint(0xee)];
  held!();
  await until(() => last(bob) !== undefined, "bob to finish");
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
  // Positive control: alice, whose fingerprints stayed, has her code.
  assert.equal(last(alice)?.state, "code");
});

Deno.test("PeerSecurity fails a round the initiator abandons, and answers at most MAX_ROUNDS per connection", async () => {
  const { bob } = pair();
  bob.security.connected();
  const commit = async (byte: number) => {
    const value = new Uint8Array(32).fill(byte);
    const hash = toHex(await sha256(value));
    bob.security.receive(JSON.stringify({ type: "sas-commit", hash, pin: null }));
    return hash;
  };
  const answered = () => bob.sent.map((m) => JSON.parse(m).hash);
  const first = await commit(1);
  await until(() => bob.sent.length === 1, "bob's value for the first commitment");
  // A new commitment instead of the reveal: the round that showed bob's value fails.
  const second = await commit(2);
  assert.deepEqual(bob.states.map((s) => s.state), ["failed", "pending"]);
  await until(() => bob.sent.length === 2, "bob's value for the second commitment");
  const third = await commit(3);
  await until(() => bob.sent.length === 3, "bob's value for the third commitment");
  assert.deepEqual(answered(), [first, second, third]);
  assert.equal(MAX_ROUNDS, 3);
  // A fourth on the same connection gets no value at all.
  await commit(4);
  assert.deepEqual(last(bob), { state: "failed", reason: SAS_FAILURE });
  // Positive control: a new connection-up gives a new allowance.
  bob.security.connected();
  const fifth = await commit(5);
  await until(() => bob.sent.length === 4, "bob's value after reconnection");
  assert.deepEqual(answered(), [first, second, third, fifth]);
});

Deno.test("PeerSecurity on the answering side keeps a round whose commitment overtook its connection-up", async () => {
  const { alice, bob } = pair();
  alice.security.connected();
  await until(() => bob.sent.length === 1, "bob's value, before bob saw the connection up");
  bob.security.connected();
  await until(() => last(bob)?.state === "code", "bob's code from that round");
  assert.deepEqual(last(alice), { state: "code", code: (last(bob) as { code: string }).code });
  assert.equal(bob.timers.pending.size, 0);
  // The connection-up event that comes after the round has ended leaves the code alone.
  bob.security.connected();
  assert.equal(last(bob)?.state, "code");
  assert.equal(bob.timers.pending.size, 0);
});
