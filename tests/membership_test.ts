import assert from "node:assert/strict";
import { Membership, type Refusal, type RoomLimits } from "../lib/membership.ts";
import type { ServerMessage } from "../lib/protocol.ts";
import { Registry } from "../lib/registry.ts";

/** A membership whose deliveries and refusals are recorded per peer. */
function setup(limits: RoomLimits = {}) {
  const registry = new Registry();
  const live = new Set(["a", "b", "c", "d"]);
  const inbox = new Map<string, ServerMessage[]>();
  const refused: [string, Refusal][] = [];
  /** Called after each delivery; a test may drop a peer from `live` there. */
  let onDeliver = (_peerId: string) => {};
  const membership = new Membership(registry, {
    ...limits,
    deliver: (peerId, frame) => {
      if (!live.has(peerId)) return;
      // Some frames come already written: read back as the client would.
      const message: ServerMessage = typeof frame === "string" ? JSON.parse(frame) : frame;
      inbox.set(peerId, [...(inbox.get(peerId) ?? []), message]);
      onDeliver(peerId);
    },
    refuse: (peerId, refusal) => refused.push([peerId, refusal]),
    holds: (peerId) => live.has(peerId),
  });
  /**
   * The frames `peerId` got since the last call, as [event, peer_id or
   * channel], without `roomState` (authority_test.ts and hub tests check it).
   */
  const take = (peerId: string) => {
    const got = inbox.get(peerId) ?? [];
    inbox.delete(peerId);
    return got.filter((m) => m.event !== "roomState").map((m) => {
      const data = m.data as { peer_id?: string; channel?: string };
      return [m.event, data.peer_id ?? data.channel];
    });
  };
  const join = (peerId: string, channel: string) =>
    membership.join(peerId, { channel, userdata: { name: peerId } });
  return {
    registry,
    membership,
    live,
    refused,
    take,
    join,
    inbox,
    setOnDeliver: (f: typeof onDeliver) => onDeliver = f,
  };
}

Deno.test("Membership introduces a joiner to each member with the offer and politeness roles", () => {
  const { membership, inbox, take, join } = setup();
  join("a", "room");
  assert.deepEqual(take("a"), [["joined", "room"]]);
  membership.join("b", { channel: "room", userdata: { name: "Bob" } });
  assert.deepEqual(inbox.get("a"), [{
    event: "addPeer",
    data: { peer_id: "b", should_create_offer: false, polite: true, userdata: { name: "Bob" } },
  }]);
  assert.deepEqual(inbox.get("b"), [
    {
      event: "addPeer",
      data: { peer_id: "a", should_create_offer: true, polite: false, userdata: { name: "a" } },
    },
    {
      event: "joined",
      data: {
        channel: "room",
        peers: ["a"],
        room_state: { channel: "room", hosts: ["a"], locked: false, password: false },
      },
    },
  ]);
});

Deno.test("Membership rejoins quietly: addPeers but no joined", () => {
  const { membership, take, join } = setup();
  join("a", "room");
  take("a");
  membership.join("b", { channel: "room", userdata: {}, quiet: true });
  assert.deepEqual(take("b"), [["addPeer", "a"]]);
  assert.deepEqual(take("a"), [["addPeer", "b"]]);
});

Deno.test("Membership refuses a double join, too many channels and a full channel", () => {
  const { registry, refused, take, join } = setup({
    maxPeersPerChannel: 2,
    maxChannelsPerPeer: 2,
  });
  join("a", "room");
  join("b", "room");
  join("a", "room");
  join("c", "room");
  join("a", "two");
  join("a", "three");
  assert.deepEqual(refused, [
    ["a", {
      code: "already_joined",
      message: 'Cannot join channel "room": already joined',
      event: "join",
    }],
    ["c", {
      code: "channel_full",
      message: 'Cannot join channel "room": it is full (2 peers)',
      event: "join",
    }],
    ["a", {
      code: "too_many_channels",
      message: 'Cannot join channel "three": already in 2 channels',
      event: "join",
    }],
  ]);
  assert.deepEqual(take("c"), [], "a refused joiner hears nothing else");
  assert.deepEqual(registry.membersOf("room"), ["a", "b"]);
  assert.deepEqual([...registry.channelsOf("a")], ["room", "two"]);
});

Deno.test("Membership uses the documented limits by default", () => {
  const { live, refused, join } = setup();
  for (let i = 0; i < 9; i++) {
    live.add(`p${i}`);
    join(`p${i}`, "room");
  }
  assert.deepEqual(refused.map(([id, r]) => [id, r.code]), [["p8", "channel_full"]]);
});

Deno.test("Membership parts with removePeer both ways only when no channel is shared", () => {
  const { membership, refused, take, join } = setup();
  for (const id of ["a", "b"]) for (const channel of ["room", "other"]) join(id, channel);
  take("a");
  take("b");
  membership.part("b", "room");
  assert.deepEqual(take("a"), [], "still share other");
  assert.deepEqual(take("b"), [["parted", "room"]]);
  membership.part("b", "other");
  assert.deepEqual(take("a"), [["removePeer", "b"]]);
  assert.deepEqual(take("b"), [["removePeer", "a"], ["parted", "other"]]);
  membership.part("b", "other");
  assert.deepEqual(refused.map(([id, r]) => [id, r.code, r.event]), [["b", "not_joined", "part"]]);
});

Deno.test("Membership tells neighbours once and removes a leaver from every channel", () => {
  const { membership, registry, take, join } = setup();
  for (const id of ["a", "b"]) for (const channel of ["room", "other"]) join(id, channel);
  join("c", "other");
  join("d", "elsewhere");
  for (const id of ["a", "b", "c", "d"]) take(id);
  membership.tellNeighbours("a", { event: "peerAway", data: { peer_id: "a" } });
  assert.deepEqual(take("b"), [["peerAway", "a"]]);
  assert.deepEqual(take("c"), [["peerAway", "a"]]);
  assert.deepEqual(take("d"), [], "not a neighbour");
  membership.leaveAll("a");
  assert.deepEqual(take("b"), [["removePeer", "a"]]);
  assert.deepEqual(take("c"), [["removePeer", "a"]]);
  assert.deepEqual(take("d"), []);
  assert.equal(registry.channelsOf("a").size, 0);
});

Deno.test("Membership stops a fan-out when the joiner is dropped mid-way", () => {
  const { live, take, join, setOnDeliver } = setup();
  join("a", "room");
  join("b", "room");
  take("a");
  take("b");
  // The first addPeer the joiner is sent gets it kicked (a slow consumer).
  setOnDeliver((peerId) => {
    if (peerId === "c") live.delete("c");
  });
  join("c", "room");
  assert.deepEqual(take("a"), [["addPeer", "c"]]);
  assert.deepEqual(take("b"), [], "the fan-out stopped");
  assert.deepEqual(take("c"), [["addPeer", "a"]], "no joined");
  // Positive control: a joiner that stays is introduced to everyone.
  setOnDeliver(() => {});
  join("d", "room");
  assert.deepEqual(take("b"), [["addPeer", "d"]]);
  assert.deepEqual(take("d"), [["addPeer", "a"], ["addPeer", "b"], ["addPeer", "c"], [
    "joined",
    "room",
  ]]);
});

Deno.test("Membership does not admit a peer the hub no longer holds", () => {
  const { registry, live, refused, join } = setup();
  live.delete("a");
  join("a", "room");
  assert.deepEqual(registry.membersOf("room"), []);
  assert.deepEqual(refused, []);
  // Positive control: a held peer is admitted.
  join("b", "room");
  assert.deepEqual(registry.membersOf("room"), ["b"]);
});
