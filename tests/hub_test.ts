import assert from "node:assert/strict";
import { Hub } from "../lib/hub.ts";
import {
  CANDIDATE,
  FakeConnection,
  frame,
  hubFixture as setup,
  join,
  OFFER,
  sequentialIds,
} from "./_helpers.ts";

/** A snapshot of everything observable about the hub's state. */
function stateOf(hub: Hub) {
  return {
    connections: hub.connectionCount,
    channels: hub.channelCount,
    members: ["room", "other"].map((c) => hub.registry.membersOf(c)),
  };
}

Deno.test("Hub sends welcome with the peer id, protocol and ICE servers", () => {
  const hub = new Hub({
    newId: sequentialIds(),
    iceServers: [{ urls: "stun:x" }],
  });
  const conn = new FakeConnection();
  hub.connect(conn);
  assert.deepEqual(conn.frames(), [{
    event: "welcome",
    data: { peer_id: "p1", protocol: 1, ice_servers: [{ urls: "stun:x" }] },
  }]);
});

Deno.test("Hub assigns unguessable UUID peer ids by default", () => {
  const hub = new Hub();
  const a = hub.connect(new FakeConnection());
  const b = hub.connect(new FakeConnection());
  assert.match(a.peerId, /^[0-9a-f-]{36}$/);
  assert.notEqual(a.peerId, b.peerId);
});

Deno.test("Hub join sends addPeer both ways with offer and politeness roles, then joined", () => {
  const { connect } = setup();
  const a = connect();
  const b = connect();
  join(a.session, "room", { name: "Ann" });
  assert.deepEqual(a.conn.takeV1(), [{
    event: "joined",
    data: {
      channel: "room",
      peers: [],
      ice_servers: [],
      ice_transport_policy: "all",
      room_state: { channel: "room", hosts: ["p1"], locked: false, password: false },
    },
  }]);
  join(b.session, "room", { name: "Bob" });
  assert.deepEqual(a.conn.take(), [{
    event: "addPeer",
    data: {
      peer_id: "p2",
      should_create_offer: false,
      polite: true,
      userdata: { name: "Bob" },
    },
  }]);
  assert.deepEqual(b.conn.take(), [
    {
      event: "addPeer",
      data: {
        peer_id: "p1",
        should_create_offer: true,
        polite: false,
        userdata: { name: "Ann" },
      },
    },
    {
      event: "joined",
      data: {
        channel: "room",
        peers: ["p1"],
        ice_servers: [],
        ice_transport_policy: "all",
        room_state: { channel: "room", hosts: ["p1"], locked: false, password: false },
      },
    },
  ]);
});

Deno.test("Hub sends one addPeer per pair across shared channels and removePeer only when none is left", () => {
  const { connect } = setup();
  const a = connect();
  const b = connect();
  join(a.session, "room");
  join(a.session, "other");
  join(b.session, "room");
  a.conn.take();
  b.conn.take();
  join(b.session, "other");
  assert.deepEqual(a.conn.take(), []);
  assert.deepEqual(b.conn.frames("addPeer"), []);
  b.conn.take();
  b.session.receive(frame("part", { channel: "room" }));
  assert.deepEqual(a.conn.take(), []);
  assert.deepEqual(b.conn.take(), [{
    event: "parted",
    data: { channel: "room" },
  }]);
  b.session.receive(frame("part", "other"));
  assert.deepEqual(a.conn.take(), [{
    event: "removePeer",
    data: { peer_id: "p2" },
  }]);
  assert.deepEqual(b.conn.take(), [
    { event: "removePeer", data: { peer_id: "p1" } },
    { event: "parted", data: { channel: "other" } },
  ]);
});

Deno.test("Hub relays candidates and descriptions with the sender stamped", () => {
  const { pairInRoom } = setup();
  const [a, b] = pairInRoom();
  a.session.receive(
    frame("relayICECandidate", { peer_id: "p2", ice_candidate: CANDIDATE }),
  );
  a.session.receive(
    frame("relaySessionDescription", {
      peer_id: "p2",
      session_description: OFFER,
    }),
  );
  assert.deepEqual(b.conn.take(), [
    {
      event: "iceCandidate",
      data: { peer_id: "p1", ice_candidate: CANDIDATE },
    },
    {
      event: "sessionDescription",
      data: { peer_id: "p1", session_description: OFFER },
    },
  ]);
  assert.deepEqual(a.conn.take(), []);
});

Deno.test("Hub relays a candidate only to a peer in a shared channel", () => {
  const { connect } = setup();
  const a = connect();
  const b = connect();
  const c = connect();
  join(a.session, "room");
  join(b.session, "room");
  join(c.session, "other");
  for (const x of [a, b, c]) x.conn.take();
  for (const target of ["p3", "nobody", "p1"]) {
    a.session.receive(
      frame("relayICECandidate", { peer_id: target, ice_candidate: CANDIDATE }),
    );
  }
  assert.deepEqual(c.conn.take(), [], "no cross-room leak");
  assert.deepEqual(b.conn.take(), []);
  assert.deepEqual(
    a.conn.take().map((f) => [f.data.code, f.data.event]),
    [
      ["unknown_peer", "relayICECandidate"],
      ["unknown_peer", "relayICECandidate"],
      ["unknown_peer", "relayICECandidate"],
    ],
  );
  // Positive control: the same relay to the peer in the shared channel arrives.
  a.session.receive(frame("relayICECandidate", { peer_id: "p2", ice_candidate: CANDIDATE }));
  assert.deepEqual(b.conn.frames("iceCandidate").map((f) => f.data.peer_id), ["p1"]);
  assert.deepEqual(c.conn.take(), []);
});

Deno.test("Hub disconnect removes the peer for everyone it shared a channel with", () => {
  const { hub, connect } = setup();
  const a = connect();
  const b = connect();
  const c = connect();
  join(a.session, "room");
  join(b.session, "room");
  join(c.session, "other");
  for (const x of [a, b, c]) x.conn.take();
  a.session.close();
  a.session.close(); // idempotent
  assert.deepEqual(b.conn.takeV1(), [{
    event: "removePeer",
    data: { peer_id: "p1" },
  }]);
  assert.deepEqual(c.conn.take(), []);
  assert.deepEqual(a.conn.take(), []);
  assert.equal(hub.connectionCount, 2);
  assert.deepEqual(hub.registry.membersOf("room"), ["p2"]);
  b.session.close();
  c.session.close();
  assert.equal(hub.connectionCount, 0);
  assert.equal(hub.channelCount, 0, "empty channels are deleted");
});

Deno.test("Hub refuses each bad frame with its error code and changes nothing", () => {
  const { hub, pairInRoom } = setup({ maxMessageBytes: 2048 });
  const [a, b] = pairInRoom();
  const before = stateOf(hub);
  const cases: [unknown, string, string?][] = [
    ["not json", "bad_message"],
    [new Uint8Array([1, 2]), "bad_message"],
    ['{"event":"join"', "bad_message"],
    ["[1]", "bad_message"],
    [frame("explode", {}), "unknown_event"],
    [frame("join", { channel: "no way" }), "bad_request", "join"],
    [frame("join", { channel: "room" }), "already_joined", "join"],
    [frame("part", { channel: "other" }), "not_joined", "part"],
    [
      frame("relayICECandidate", { peer_id: "p2" }),
      "bad_request",
      "relayICECandidate",
    ],
    [
      frame("relaySessionDescription", {
        peer_id: "p9",
        session_description: OFFER,
      }),
      "unknown_peer",
      "relaySessionDescription",
    ],
    [
      frame("join", { channel: "x", userdata: { pad: "x".repeat(3000) } }),
      "message_too_large",
    ],
  ];
  for (const [input, code, event] of cases) {
    a.session.receive(input);
    const frames = a.conn.take();
    assert.equal(frames.length, 1, String(input));
    assert.equal(frames[0].event, "error");
    assert.equal(frames[0].data.code, code, String(input));
    assert.equal(frames[0].data.event, event, String(input));
    assert.equal(typeof frames[0].data.message, "string");
  }
  assert.deepEqual(stateOf(hub), before);
  assert.deepEqual(b.conn.take(), [], "others hear nothing of it");
  assert.equal(a.conn.closedWith, undefined, "the connection stays open");
  assert.equal(hub.metrics.errors.bad_message, 4);
});

Deno.test("Hub measures the size limit in UTF-8 bytes", () => {
  const { connect } = setup({ maxMessageBytes: 1024 });
  const a = connect();
  // 400 three-byte characters: 400 UTF-16 units but 1,200 bytes.
  a.session.receive(
    frame("join", { channel: "r", userdata: { n: "€".repeat(400) } }),
  );
  assert.equal(a.conn.take()[0].data.code, "message_too_large");
});

Deno.test("Hub refuses joining a full channel with channel_full", () => {
  const { hub, connect } = setup({ maxPeersPerChannel: 2 });
  const [a, b, c] = [connect(), connect(), connect()];
  join(a.session, "room");
  join(b.session, "room");
  a.conn.take();
  join(c.session, "room");
  assert.equal(c.conn.take()[0].data.code, "channel_full");
  assert.deepEqual(a.conn.take(), []);
  assert.deepEqual(hub.registry.membersOf("room"), ["p1", "p2"]);
});

Deno.test("Hub caps the channels per connection with too_many_channels", () => {
  const { connect } = setup({ maxChannelsPerPeer: 2 });
  const a = connect();
  join(a.session, "one");
  join(a.session, "two");
  a.conn.take();
  join(a.session, "three");
  assert.equal(a.conn.take()[0].data.code, "too_many_channels");
});

Deno.test("Hub rate-limits a flood but allows an ICE-gathering burst and refills over time", () => {
  const { clock, pairInRoom } = setup({
    rateBurst: 300,
    ratePerSecond: 100,
    abuseLimit: 10_000,
  });
  const [a, b] = pairInRoom();
  const relay = frame("relayICECandidate", {
    peer_id: "p2",
    ice_candidate: CANDIDATE,
  });
  for (let i = 0; i < 2000; i++) a.session.receive(relay);
  assert.equal(
    b.conn.frames("iceCandidate").length,
    299,
    "the burst minus the join",
  );
  const errors = a.conn.frames("error");
  assert.equal(errors.length, 1701);
  assert.ok(errors.every((f) => f.data.code === "rate_limited"));
  b.conn.take();
  clock.advance(1000);
  for (let i = 0; i < 150; i++) a.session.receive(relay);
  assert.equal(b.conn.frames("iceCandidate").length, 100);
  assert.equal(a.conn.closedWith, undefined);
});

Deno.test("Hub closes a connection that keeps flooding with 1008 and cleans up", () => {
  const { hub, connect } = setup({
    rateBurst: 10,
    ratePerSecond: 1,
    abuseLimit: 50,
  });
  const a = connect();
  const b = connect();
  join(a.session, "room");
  join(b.session, "room");
  b.conn.take();
  for (let i = 0; i < 100; i++) a.session.receive("junk");
  assert.equal(a.conn.closedWith?.code, 1008);
  assert.deepEqual(b.conn.takeV1(), [{
    event: "removePeer",
    data: { peer_id: "p1" },
  }]);
  assert.equal(hub.connectionCount, 1);
  assert.equal(hub.metrics.connectionsKicked, 1);
});

Deno.test("Hub closes a slow consumer instead of buffering without bound", () => {
  const { hub, connect } = setup({ maxBufferedBytes: 1000 });
  const a = connect();
  const b = connect();
  join(a.session, "room");
  join(b.session, "room");
  a.conn.take();
  b.conn.bufferedAmount = 5000;
  a.session.receive(
    frame("relayICECandidate", { peer_id: "p2", ice_candidate: CANDIDATE }),
  );
  assert.equal(b.conn.closedWith?.code, 1013);
  assert.deepEqual(b.conn.frames("iceCandidate"), []);
  assert.deepEqual(a.conn.take(), [{
    event: "removePeer",
    data: { peer_id: "p2" },
  }]);
  assert.equal(hub.connectionCount, 1);
});

Deno.test("Hub survives a socket whose send throws", () => {
  const { hub, connect } = setup();
  const a = connect();
  const b = connect();
  join(a.session, "room");
  b.conn.close(1006, "gone"); // FakeConnection.send now throws
  join(b.session, "room");
  assert.equal(a.conn.frames("addPeer").length, 1);
  b.session.close();
  assert.equal(hub.connectionCount, 1);
});

Deno.test("Hub ignores frames after close", () => {
  const { hub, connect } = setup();
  const a = connect();
  a.session.close();
  join(a.session, "room");
  assert.equal(hub.channelCount, 0);
  assert.deepEqual(a.conn.take(), []);
  // Positive control: the same join on an open connection is handled.
  const b = connect();
  join(b.session, "room");
  assert.equal(hub.channelCount, 1);
  assert.deepEqual(b.conn.frames("joined").length, 1);
});

Deno.test("Hub without options applies the documented limits", () => {
  const { connect } = setup();
  const members = Array.from({ length: 9 }, () => connect());
  for (const m of members) join(m.session, "room");
  assert.deepEqual(members.map((m) => m.conn.frames("joined").length), [1, 1, 1, 1, 1, 1, 1, 1, 0]);
  assert.match(members[8].conn.frames("error")[0].data.message, /full \(8 peers\)/);
  const a = members[0];
  for (let i = 1; i <= 8; i++) join(a.session, `other-${i}`);
  const refused = a.conn.frames("error").map((f) => f.data.message);
  assert.deepEqual(refused, ['Cannot join channel "other-8": already in 8 channels']);
  a.session.receive(frame("join", { channel: "big", userdata: { pad: "x".repeat(65_536) } }));
  assert.equal(a.conn.frames("error").at(-1)?.data.code, "message_too_large");
});

Deno.test("Hub shutdown closes every socket with 1001", () => {
  const { hub, connect } = setup();
  const a = connect();
  const b = connect();
  join(a.session, "room");
  join(b.session, "room");
  hub.shutdown();
  assert.equal(a.conn.closedWith?.code, 1001);
  assert.equal(b.conn.closedWith?.code, 1001);
  assert.equal(hub.connectionCount, 0);
  assert.equal(hub.channelCount, 0);
  assert.equal(hub.metrics.connectionsKicked, 0);
});

Deno.test("Hub counts relays and errors in its metrics", () => {
  const { hub, connect } = setup();
  const a = connect();
  const b = connect();
  join(a.session, "room");
  join(b.session, "room");
  a.session.receive(
    frame("relayICECandidate", { peer_id: "p2", ice_candidate: CANDIDATE }),
  );
  a.session.receive("x");
  const text = hub.metrics.render({
    connections: hub.connectionCount,
    channels: hub.channelCount,
  });
  assert.match(text, /^signal_connections 2$/m);
  assert.match(text, /^signal_channels 1$/m);
  assert.match(text, /^signal_messages_relayed_total 1$/m);
  assert.match(text, /^signal_errors_total\{code="bad_message"\} 1$/m);
});

Deno.test("Hub stops a join's fan-out when the joiner is kicked as a slow consumer", () => {
  const { hub, connect, pairInRoom } = setup({ maxBufferedBytes: 1000 });
  const [a, b] = pairInRoom();
  const c = connect();
  c.conn.bufferedAmount = 5000;
  join(c.session, "room");
  assert.equal(c.conn.closedWith?.code, 1013);
  for (const member of [a, b]) {
    const frames = member.conn.take();
    const last = frames.filter((f) => f.data.peer_id === c.id).at(-1);
    assert.notEqual(last?.event, "addPeer", "nobody is left believing the joiner is here");
  }
  assert.deepEqual(hub.registry.membersOf("room"), [a.id, b.id]);
  assert.equal(hub.connectionCount, 2);

  // Positive control: a joiner that reads is introduced to both.
  const d = connect();
  join(d.session, "room");
  assert.deepEqual(a.conn.frames("addPeer").map((f) => f.data.peer_id), [d.id]);
  assert.deepEqual(b.conn.frames("addPeer").map((f) => f.data.peer_id), [d.id]);
});

Deno.test("Hub removes a member kicked during someone's join right after that join, not in it", () => {
  const { hub, connect, pairInRoom } = setup({ maxBufferedBytes: 1000 });
  const [a, b] = pairInRoom();
  a.conn.bufferedAmount = 5000;
  const c = connect();
  join(c.session, "room");
  assert.equal(a.conn.closedWith?.code, 1013);
  // The join finishes as it began (the kick is a leave applied after it):
  // the joiner meets everyone, then hears the kicked one leave. No ghost.
  const aboutA = c.conn.frames().filter((f) => f.data.peer_id === a.id).map((f) => f.event);
  assert.deepEqual(aboutA, ["addPeer", "removePeer"]);
  assert.deepEqual(b.conn.frames("removePeer").map((f) => f.data.peer_id), [a.id]);
  assert.deepEqual(hub.registry.membersOf("room"), [b.id, c.id]);
  assert.equal(hub.connectionCount, 2);
});

Deno.test("Hub closes a slow consumer after the op whose frames it could not take, not inside it", () => {
  const { hub, connect, pairInRoom } = setup({ maxBufferedBytes: 1000 });
  const [a, b] = pairInRoom();
  // One timeline of what every socket saw: frames written and closes.
  const seen: string[] = [];
  for (const [name, conn] of [["a", a.conn], ["b", b.conn]] as const) {
    const { send, close } = conn;
    conn.send = (text) => {
      seen.push(`${name} ${JSON.parse(text).event}`);
      send.call(conn, text);
    };
    conn.close = (code, reason) => {
      seen.push(`${name} closed`);
      close.call(conn, code, reason);
    };
  }
  a.conn.bufferedAmount = 5000;
  const c = connect();
  join(c.session, "room");
  assert.equal(a.conn.closedWith?.code, 1013);
  const closedAt = seen.indexOf("a closed");
  const joinFrames = seen.indexOf("b addPeer");
  assert.ok(joinFrames >= 0 && closedAt > joinFrames, `the join's fan-out first: ${seen}`);
  assert.deepEqual(hub.registry.membersOf("room"), [b.id, c.id]);
});

Deno.test("Hub gives each connection and each address a join budget (room scanning)", () => {
  const { hub, clock } = setup({ joinBurst: 3, joinsPerMinute: 6 });
  const conn = new FakeConnection();
  const session = hub.connect(conn, { address: "203.0.113.9" });
  for (let i = 0; i < 5; i++) join(session, `probe-${i}`);
  const codes = conn.frames("error").map((f) => f.data.code);
  assert.deepEqual(codes, ["rate_limited", "rate_limited"], "3 joins, then refused");
  assert.equal(conn.frames("joined").length, 3);
  clock.advance(10_000); // one more join per 10 s
  join(session, "probe-later");
  assert.equal(conn.frames("joined").length, 4, "the budget refills");

  // The address's budget (ten times one connection's) is shared.
  let joined = 0;
  for (let i = 0; i < 20; i++) {
    const c = new FakeConnection();
    const s = hub.connect(c, { address: "198.51.100.7" });
    for (let j = 0; j < 3; j++) join(s, `scan-${i}-${j}`);
    joined += c.frames("joined").length;
  }
  assert.equal(joined, 30, "one address: 30 joins in a burst across its connections");
  // Positive control: another address is not affected.
  const other = new FakeConnection();
  join(hub.connect(other, { address: "192.0.2.1" }), "room");
  assert.equal(other.frames("joined").length, 1);
});

Deno.test("Hub closes a connection that neither joins nor resumes within the timeout", () => {
  const { hub, clock, connect } = setup({ joinTimeoutMs: 15_000 });
  const silent = connect();
  const member = connect();
  join(member.session, "room");
  clock.advance(14_999);
  hub.tick();
  const closedWith = () => silent.conn.closedWith;
  assert.equal(closedWith(), undefined, "not before the timeout");
  clock.advance(1);
  hub.tick();
  assert.equal(closedWith()?.code, 1008);
  assert.equal(member.conn.closedWith, undefined, "a member stays");
  assert.equal(hub.connectionCount, 1);
});
