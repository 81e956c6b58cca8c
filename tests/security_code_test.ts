import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  fingerprintsOf,
  formatCode,
  isSecurityCode,
  securityCode,
} from "../client/security_code.ts";

/** `length` consecutive bytes from `start`, as a fingerprint digest. */
function digest(start: number, length = 32): string {
  return Array.from(
    { length },
    (_, i) => ((start + i) & 255).toString(16).padStart(2, "0").toUpperCase(),
  ).join(":");
}

const ALICE = `sha-256 ${digest(0xa0)}`;
const BOB = `sha-256 ${digest(0x10)}`;
const ALICE_VALUE = new Uint8Array(32).fill(0x11);
const BOB_VALUE = new Uint8Array(32).fill(0x22);

/** Computed once, and by hand with printf | sha256sum and python3 (docs/security.md). */
const EXPECTED = "938928088628370";

/** The same derivation written out independently: text built by hand, node:crypto. */
function referenceCode(first: [string, string], second: [string, string]): string {
  const text = `mesh-security-code-v1\n${first[0]}\n${first[1]}\n${second[0]}\n${second[1]}\n`;
  const hash = createHash("sha256").update(text, "utf8").digest();
  return (hash.readBigUInt64BE(0) % 1_000_000_000_000_000n).toString().padStart(15, "0");
}

Deno.test("securityCode of fixed fingerprints and values is a fixed code", async () => {
  const code = await securityCode({
    local: [ALICE],
    remote: [BOB],
    localValue: ALICE_VALUE,
    remoteValue: BOB_VALUE,
  });
  assert.equal(code, EXPECTED);
  // Bob's fingerprint sorts first ("1" < "A"), so his block comes first.
  assert.equal(referenceCode([BOB, "22".repeat(32)], [ALICE, "11".repeat(32)]), EXPECTED);
  // The order matters to the hash: the other order is another code.
  assert.notEqual(referenceCode([ALICE, "11".repeat(32)], [BOB, "22".repeat(32)]), EXPECTED);
  assert.equal(formatCode(code), "93892 80886 28370");
});

Deno.test("securityCode is the same for both sides whichever is local", async () => {
  const alice = await securityCode({
    local: [ALICE],
    remote: [BOB],
    localValue: ALICE_VALUE,
    remoteValue: BOB_VALUE,
  });
  const bob = await securityCode({
    local: [BOB],
    remote: [ALICE],
    localValue: BOB_VALUE,
    remoteValue: ALICE_VALUE,
  });
  assert.equal(bob, alice);
  // Swapping only the values is another pairing, so another code.
  const swapped = await securityCode({
    local: [ALICE],
    remote: [BOB],
    localValue: BOB_VALUE,
    remoteValue: ALICE_VALUE,
  });
  assert.notEqual(swapped, alice);
});

Deno.test("securityCode changes when any byte of a fingerprint or a value changes", async () => {
  const base = { local: [ALICE], remote: [BOB], localValue: ALICE_VALUE, remoteValue: BOB_VALUE };
  const codes = new Set([await securityCode(base)]);
  let variants = 1;
  for (let i = 0; i < 32; i++) {
    for (const key of ["localValue", "remoteValue"] as const) {
      const value = base[key].slice();
      value[i] ^= 0x01;
      codes.add(await securityCode({ ...base, [key]: value }));
      variants++;
    }
    for (const key of ["local", "remote"] as const) {
      const line = base[key][0];
      const at = "sha-256 ".length + i * 3 + 1; // the low digit of byte i
      const flipped = line.slice(0, at) + (line[at] === "0" ? "1" : "0") + line.slice(at + 1);
      assert.notEqual(flipped, line);
      codes.add(await securityCode({ ...base, [key]: [flipped] }));
      variants++;
    }
  }
  assert.equal(variants, 129);
  assert.equal(codes.size, variants, "every changed byte gave a code of its own");
  for (const code of codes) assert.ok(isSecurityCode(code), code);
});

Deno.test("securityCode refuses fingerprints it did not normalise and values of the wrong size", async () => {
  const base = { local: [ALICE], remote: [BOB], localValue: ALICE_VALUE, remoteValue: BOB_VALUE };
  assert.ok(isSecurityCode(await securityCode(base)));
  for (
    const bad of [
      { local: [] },
      { local: [ALICE.toLowerCase()] },
      { remote: [`sha-1 ${digest(0, 20)}`] },
      { localValue: new Uint8Array(31) },
      { remoteValue: new Uint8Array(33) },
    ]
  ) {
    await assert.rejects(() => securityCode({ ...base, ...bad }), TypeError, JSON.stringify(bad));
  }
});

Deno.test("formatCode groups 15 digits in threes of five and refuses anything else", () => {
  assert.equal(formatCode("000000000000001"), "00000 00000 00001");
  assert.throws(() => formatCode("12345"), TypeError);
  assert.throws(() => formatCode("12345678901234a"), TypeError);
  assert.equal(isSecurityCode("123456789012345"), true);
  assert.equal(isSecurityCode(123456789012345), false);
});

/** A Chromium-style offer: one fingerprint line in each m-section, none at session level. */
function chromiumOffer(fingerprints: string[]): string {
  const [audio, video = audio, data = audio] = fingerprints;
  return [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1 2",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:Yt3h",
    "a=ice-pwd:0b4QgTX0Jh2Jx2uYbWW3+0vN",
    `a=fingerprint:${audio}`,
    "a=setup:actpass",
    "a=mid:0",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    `a=fingerprint:${video}`,
    "a=setup:actpass",
    "a=mid:1",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    `a=fingerprint:${data}`,
    "a=setup:actpass",
    "a=mid:2",
    "a=sctp-port:5000",
    "",
  ].join("\r\n");
}

/** A Firefox-style answer: one session-level fingerprint, none in the m-sections. */
function firefoxAnswer(fingerprint: string): string {
  return [
    "v=0",
    "o=mozilla...THIS_IS_SDPARTA-99.0 5034254939390418563 0 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    `a=fingerprint:${fingerprint}`,
    "a=group:BUNDLE 0 1",
    "a=ice-options:trickle",
    "a=msid-semantic:WMS *",
    "m=audio 9 UDP/TLS/RTP/SAVPF 109",
    "c=IN IP4 0.0.0.0",
    "a=mid:0",
    "a=setup:active",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=mid:1",
    "a=sctp-port:5000",
    "",
  ].join("\r\n");
}

Deno.test("fingerprintsOf reads Chromium's media-level lines and Firefox's session-level line", () => {
  assert.deepEqual(fingerprintsOf(chromiumOffer([ALICE])), [ALICE]);
  assert.deepEqual(fingerprintsOf(firefoxAnswer(BOB)), [BOB]);
  // Lower-case hex and an upper-case algorithm are the same fingerprint.
  assert.deepEqual(fingerprintsOf(firefoxAnswer(`SHA-256 ${digest(0x10).toLowerCase()}`)), [BOB]);
  // "\n" line ends as well as "\r\n".
  assert.deepEqual(fingerprintsOf(chromiumOffer([ALICE]).replaceAll("\r\n", "\n")), [ALICE]);
});

Deno.test("fingerprintsOf lets a media-level line override the session-level one", () => {
  const sdp = firefoxAnswer(BOB).replace("a=mid:0", `a=mid:0\r\na=fingerprint:${ALICE}`);
  // The audio section says ALICE, the data section inherits BOB: they disagree.
  assert.equal(fingerprintsOf(sdp), null);
  const both = sdp.replace("a=mid:1", `a=mid:1\r\na=fingerprint:${ALICE}`);
  assert.deepEqual(fingerprintsOf(both), [ALICE]);
});

Deno.test("fingerprintsOf refuses a description whose m-sections carry different fingerprints", () => {
  assert.deepEqual(fingerprintsOf(chromiumOffer([ALICE, ALICE, ALICE])), [ALICE]);
  assert.equal(fingerprintsOf(chromiumOffer([ALICE, BOB, ALICE])), null);
  assert.equal(fingerprintsOf(chromiumOffer([ALICE, ALICE, BOB])), null);
});

Deno.test("fingerprintsOf keeps every distinct line of a section, sorted", () => {
  const sha384 = `sha-384 ${digest(0x40, 48)}`;
  const twoLines = `${ALICE}\r\na=fingerprint:${sha384}`;
  const sdp = chromiumOffer([twoLines, twoLines, twoLines]);
  assert.deepEqual(fingerprintsOf(sdp), [ALICE, sha384].sort());
});

Deno.test("fingerprintsOf ignores a rejected m-section without fingerprint lines", () => {
  const sdp = chromiumOffer([ALICE]) + "m=video 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:3\r\n";
  assert.deepEqual(fingerprintsOf(sdp), [ALICE]);
});

Deno.test("fingerprintsOf refuses descriptions without a usable fingerprint", () => {
  assert.deepEqual(fingerprintsOf(firefoxAnswer(ALICE)), [ALICE]);
  for (
    const [what, sdp] of [
      ["no fingerprint", "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"],
      ["empty", ""],
      ["sha-1", firefoxAnswer(`sha-1 ${digest(0, 20)}`)],
      ["md5", firefoxAnswer(`md5 ${digest(0, 16)}`)],
      ["sha-384 of 32 bytes", firefoxAnswer(`sha-384 ${digest(0)}`)],
      ["digest too short", firefoxAnswer(`sha-256 ${digest(0).slice(0, 92)}`)],
      ["digest too long", firefoxAnswer(`sha-256 ${digest(0)}:00`)],
      ["not hex", firefoxAnswer(`sha-256 ${digest(0).replace("00", "0G")}`)],
      ["no separators", firefoxAnswer(`sha-256 ${digest(0).replaceAll(":", "")}`)],
      ["no digest", firefoxAnswer("sha-256")],
      ["one good, one malformed", chromiumOffer([ALICE, "sha-256 zz"])],
    ]
  ) {
    assert.equal(fingerprintsOf(sdp), null, what);
  }
});
