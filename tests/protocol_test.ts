import assert from "node:assert/strict";
import {
  cleanName,
  encode,
  encodeAddPeer,
  isValidChannel,
  MAX_CANDIDATE_LENGTH,
  parseClientMessage,
  parseIceCandidate,
  parseServerMessage,
  utf8Length,
} from "../lib/protocol.ts";

Deno.test("encodeAddPeer writes addPeer exactly as encode does, in both roles", () => {
  for (
    const userdata of [{}, { name: "Ann" }, { name: 'q"uo\\te ü 😀', extra: [1, { x: null }] }]
  ) {
    for (const offer of [true, false]) {
      for (const id of ["0f205226-dd1e-4147-81cc-c62524270a7a", 'odd"id\\']) {
        assert.equal(
          encodeAddPeer(id, offer, JSON.stringify(userdata)),
          encode({
            event: "addPeer",
            data: { peer_id: id, should_create_offer: offer, polite: !offer, userdata },
          }),
        );
      }
    }
  }
});

Deno.test("isValidChannel accepts the documented alphabet and refuses the rest", () => {
  for (const ok of ["a", "room-1", "A.b_c", "x".repeat(64), "..."]) {
    assert.equal(isValidChannel(ok), true, ok);
  }
  for (
    const bad of ["", ".", "..", "a b", "x".repeat(65), "ä", "a/b", 5, null]
  ) {
    assert.equal(isValidChannel(bad), false, String(bad));
  }
});

Deno.test("parseClientMessage refuses non-JSON and non-envelopes as bad_message", () => {
  for (
    const text of ["", "nope", "[]", "null", "42", '{"data":{}}', '{"event":5}']
  ) {
    const result = parseClientMessage(text);
    assert.equal(result.ok, false, text);
    assert.equal(!result.ok && result.code, "bad_message", text);
  }
});

Deno.test("parseClientMessage refuses unknown events", () => {
  const result = parseClientMessage('{"event":"addPeer","data":{}}');
  assert.deepEqual(result.ok ? null : result.code, "unknown_event");
});

Deno.test("parseClientMessage defaults userdata and rebuilds join", () => {
  const result = parseClientMessage(
    '{"event":"join","data":{"channel":"r","x":1}}',
  );
  assert.deepEqual(result, {
    ok: true,
    value: { event: "join", data: { channel: "r", userdata: {} } },
  });
});

Deno.test("parseClientMessage refuses bad join data as bad_request", () => {
  const cases = [
    { channel: "a b" },
    { channel: ".." },
    { channel: "r", userdata: [] },
    { channel: "r", userdata: "x" },
    { channel: "r", userdata: { name: "x".repeat(1100) } },
  ];
  for (const data of cases) {
    const result = parseClientMessage(JSON.stringify({ event: "join", data }));
    assert.equal(
      result.ok ? null : result.code,
      "bad_request",
      JSON.stringify(data),
    );
    assert.equal(result.ok ? null : result.event, "join");
  }
  const noData = parseClientMessage('{"event":"join"}');
  assert.equal(noData.ok ? null : noData.code, "bad_request");
});

Deno.test("parseClientMessage accepts part as an object or the seed's bare string", () => {
  for (const data of [{ channel: "r" }, "r"]) {
    assert.deepEqual(
      parseClientMessage(JSON.stringify({ event: "part", data })),
      {
        ok: true,
        value: { event: "part", data: { channel: "r" } },
      },
    );
  }
});

Deno.test("parseClientMessage rebuilds a candidate, dropping unknown keys", () => {
  const result = parseClientMessage(JSON.stringify({
    event: "relayICECandidate",
    data: {
      peer_id: "p2",
      ice_candidate: {
        candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
        sdpMid: "0",
        sdpMLineIndex: null,
        evil: "<script>",
      },
      extra: true,
    },
  }));
  assert.deepEqual(result, {
    ok: true,
    value: {
      event: "relayICECandidate",
      data: {
        peer_id: "p2",
        ice_candidate: {
          candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
          sdpMid: "0",
          sdpMLineIndex: null,
        },
      },
    },
  });
});

Deno.test("parseClientMessage refuses malformed relays as bad_request", () => {
  const cases = [
    ["relayICECandidate", { peer_id: "p", ice_candidate: {} }],
    ["relayICECandidate", { peer_id: "p", ice_candidate: { candidate: 1 } }],
    ["relayICECandidate", {
      peer_id: "p",
      ice_candidate: { candidate: "", sdpMLineIndex: -1 },
    }],
    ["relayICECandidate", { ice_candidate: { candidate: "" } }],
    ["relaySessionDescription", {
      peer_id: "p",
      session_description: { type: "bogus", sdp: "" },
    }],
    ["relaySessionDescription", {
      peer_id: "p",
      session_description: { type: "offer" },
    }],
    ["relaySessionDescription", {
      peer_id: "",
      session_description: { type: "offer", sdp: "" },
    }],
    ["relaySessionDescription", "x"],
  ] as const;
  for (const [event, data] of cases) {
    const result = parseClientMessage(JSON.stringify({ event, data }));
    assert.equal(
      result.ok ? null : result.code,
      "bad_request",
      JSON.stringify(data),
    );
  }
});

Deno.test("parseServerMessage treats a seed addPeer without polite as answerer-polite", () => {
  const result = parseServerMessage(
    '{"event":"addPeer","data":{"peer_id":"x","should_create_offer":true}}',
  );
  assert.deepEqual(result.ok && result.value.data, {
    peer_id: "x",
    should_create_offer: true,
    polite: false,
    userdata: {},
  });
});

Deno.test("parseServerMessage drops invalid ice servers from welcome", () => {
  const result = parseServerMessage(JSON.stringify({
    event: "welcome",
    data: {
      peer_id: "me",
      protocol: 1,
      ice_servers: [{ urls: "stun:a" }, { urls: "http://x" }, 5],
    },
  }));
  assert.ok(result.ok && result.value.event === "welcome");
  assert.deepEqual(result.value.data.ice_servers, [{ urls: "stun:a" }]);
});

Deno.test("parseServerMessage refuses unknown events and bad data", () => {
  assert.equal(parseServerMessage('{"event":"nope","data":{}}').ok, false);
  assert.equal(
    parseServerMessage('{"event":"removePeer","data":{}}').ok,
    false,
  );
  assert.equal(
    parseServerMessage('{"event":"error","data":{"code":"x","message":""}}').ok,
    false,
  );
});

Deno.test("utf8Length counts bytes, not UTF-16 units", () => {
  assert.equal(utf8Length("abc"), 3);
  assert.equal(utf8Length("é"), 2);
  assert.equal(utf8Length("😀"), 4);
});

Deno.test("parseIceCandidate refuses oversized candidates and fields", () => {
  const ok = { candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host", sdpMid: "0" };
  assert.deepEqual(parseIceCandidate(ok), ok);
  assert.equal(parseIceCandidate({ candidate: "x".repeat(MAX_CANDIDATE_LENGTH + 1) }), undefined);
  assert.equal(parseIceCandidate({ ...ok, sdpMid: "m".repeat(257) }), undefined);
  assert.equal(parseIceCandidate({ ...ok, usernameFragment: "u".repeat(257) }), undefined);
  assert.deepEqual(parseIceCandidate({ candidate: "" }), { candidate: "" }, "end of candidates");
});

Deno.test("parseClientMessage rebuilds join with a password and browser id, and knock", () => {
  const join = parseClientMessage(JSON.stringify({
    event: "join",
    data: { channel: "r", password: "pw", browser: "b-1_x", extra: 1 },
  }));
  assert.deepEqual(join, {
    ok: true,
    value: {
      event: "join",
      data: { channel: "r", userdata: {}, password: "pw", browser: "b-1_x" },
    },
  });
  const knock = parseClientMessage(JSON.stringify({
    event: "knock",
    data: { channel: "r", userdata: { name: "K" }, password: "dropped" },
  }));
  assert.deepEqual(knock, {
    ok: true,
    value: { event: "knock", data: { channel: "r", userdata: { name: "K" } } },
  });
});

Deno.test("parseClientMessage parses the host actions and refuses bad ones as bad_request", () => {
  const good: [string, unknown][] = [
    ["lock", { channel: "r", locked: true }],
    ["setPassword", { channel: "r", password: null }],
    ["setPassword", { channel: "r", password: "x".repeat(128) }],
    ...["makeHost", "remove", "mute", "admit", "deny"].map((e): [string, unknown] => [e, {
      channel: "r",
      peer_id: "p1",
    }]),
  ];
  for (const [event, data] of good) {
    const result = parseClientMessage(JSON.stringify({ event, data: { ...data as object, x: 1 } }));
    assert.deepEqual(result, { ok: true, value: { event, data } }, event);
  }
  const bad: [string, unknown][] = [
    ["lock", { channel: "r" }],
    ["lock", { channel: "r", locked: 1 }],
    ["setPassword", { channel: "r" }],
    ["setPassword", { channel: "r", password: "" }],
    ["setPassword", { channel: "r", password: "x".repeat(129) }],
    ["mute", { channel: "r", peer_id: "" }],
    ["admit", { channel: "a b", peer_id: "p1" }],
    ["join", { channel: "r", password: "" }],
    ["join", { channel: "r", browser: "x".repeat(65) }],
    ["knock", { channel: "r", browser: "no/slash" }],
  ];
  for (const [event, data] of bad) {
    const result = parseClientMessage(JSON.stringify({ event, data }));
    assert.equal(result.ok ? null : result.code, "bad_request", JSON.stringify([event, data]));
    assert.equal(result.ok ? null : result.event, event);
  }
});

Deno.test("parseServerMessage rebuilds the room-authority frames", () => {
  const cases: [string, unknown, unknown][] = [
    ["roomState", { channel: "r", hosts: ["p1", 5], locked: true, password: "yes", hash: "x" }, {
      channel: "r",
      hosts: ["p1"],
      locked: true,
      password: false,
    }],
    ["knocks", { channel: "r", knocks: [{ peer_id: "p2", name: "\u202eK" }, 3] }, {
      channel: "r",
      knocks: [{ peer_id: "p2", name: "K" }],
    }],
    ["knocking", { channel: "r" }, { channel: "r" }],
    ["denied", { channel: "r" }, { channel: "r" }],
    ["removed", { channel: "r" }, { channel: "r" }],
    ["muted", { channel: "r", by: "p1" }, { channel: "r", by: "p1" }],
    ["roomAlert", { channel: "r", alert: "wrong_passwords", extra: 1 }, {
      channel: "r",
      alert: "wrong_passwords",
    }],
  ];
  for (const [event, data, expected] of cases) {
    assert.deepEqual(parseServerMessage(JSON.stringify({ event, data })), {
      ok: true,
      value: { event, data: expected },
    });
  }
  const noBy = parseServerMessage(JSON.stringify({ event: "muted", data: { channel: "r" } }));
  assert.equal(noBy.ok ? null : noBy.code, "bad_request");
  const unknownAlert = parseServerMessage(
    JSON.stringify({ event: "roomAlert", data: { channel: "r", alert: "other" } }),
  );
  assert.equal(unknownAlert.ok ? null : unknownAlert.code, "bad_request");
});

Deno.test("parseClientMessage takes a resume's browser id, checked like a join's", () => {
  const frame = (data: unknown) => JSON.stringify({ event: "resume", data });
  assert.deepEqual(parseClientMessage(frame({ token: "t", channels: [], browser: "b-1_x" })), {
    ok: true,
    value: { event: "resume", data: { token: "t", channels: [], browser: "b-1_x" } },
  });
  assert.deepEqual(parseClientMessage(frame({ token: "t" })), {
    ok: true,
    value: { event: "resume", data: { token: "t", channels: [] } },
  }, "a v1 resume without one");
  const bad = parseClientMessage(frame({ token: "t", channels: [], browser: "has space" }));
  assert.equal(bad.ok ? null : bad.code, "bad_request");
});

Deno.test("cleanName strips unprintable characters, trims, caps at 40, defaults to Guest", () => {
  assert.equal(cleanName(" A\u200bnn\u0007 "), "Ann");
  assert.equal(cleanName("x".repeat(50)).length, 40);
  assert.equal(cleanName(""), "Guest");
  assert.equal(cleanName(7), "Guest");
});
