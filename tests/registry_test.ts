import assert from "node:assert/strict";
import { Registry } from "../lib/registry.ts";

Deno.test("Registry reports existing members as newly shared on first join", () => {
  const r = new Registry();
  assert.deepEqual(r.join("a", { channel: "x", userdata: { n: 1 } }), {
    newlyShared: [],
    members: [],
  });
  assert.deepEqual(r.join("b", { channel: "x", userdata: {} }), {
    newlyShared: [{ peerId: "a", userdata: { n: 1 } }],
    members: ["a"],
  });
  assert.equal(r.shareChannel("a", "b"), true);
  assert.equal(r.shareChannel("a", "a"), false);
});

Deno.test("Registry pairs peers once across several shared channels", () => {
  const r = new Registry();
  r.join("a", { channel: "x", userdata: {} });
  r.join("b", { channel: "x", userdata: {} });
  r.join("a", { channel: "y", userdata: {} });
  const second = r.join("b", { channel: "y", userdata: {} });
  assert.deepEqual(second.newlyShared, []);
  assert.deepEqual(second.members, ["a"]);
  assert.deepEqual(r.part("b", "x"), [], "still share y");
  assert.deepEqual(r.part("b", "y"), ["a"]);
});

Deno.test("Registry deletes empty channels and forgets peers with none", () => {
  const r = new Registry();
  r.join("a", { channel: "x", userdata: {} });
  r.join("a", { channel: "y", userdata: {} });
  r.join("b", { channel: "y", userdata: {} });
  assert.equal(r.channelCount, 2);
  assert.deepEqual(r.leaveAll("a"), ["b"]);
  assert.equal(r.channelCount, 1);
  assert.equal(r.channelsOf("a").size, 0);
  r.part("b", "y");
  assert.equal(r.channelCount, 0);
});

Deno.test("Registry refuses a double join and a part of a channel one is not in", () => {
  const r = new Registry();
  r.join("a", { channel: "x", userdata: {} });
  assert.throws(() => r.join("a", { channel: "x", userdata: {} }), RangeError);
  assert.throws(() => r.part("a", "y"), RangeError);
  assert.throws(() => r.part("b", "x"), RangeError);
  assert.deepEqual(r.membersOf("x"), ["a"]);
});

Deno.test("Registry lists each neighbour once across shared channels", () => {
  const r = new Registry();
  r.join("a", { channel: "x", userdata: {} });
  r.join("a", { channel: "y", userdata: {} });
  r.join("b", { channel: "x", userdata: {} });
  r.join("b", { channel: "y", userdata: {} });
  r.join("c", { channel: "y", userdata: {} });
  r.join("d", { channel: "z", userdata: {} });
  assert.deepEqual(r.neighboursOf("a").sort(), ["b", "c"]);
  assert.deepEqual(r.neighboursOf("d"), []);
  assert.deepEqual(r.neighboursOf("nobody"), []);
});
