import assert from "node:assert/strict";
import { randomRoomName } from "../client/room_name.ts";
import { isValidChannel } from "../lib/protocol.ts";

Deno.test("randomRoomName makes valid, readable channel names", () => {
  assert.equal(randomRoomName(() => [0, 1, 0, 42]), "amber-beacon-000000000001a");
  assert.equal(
    randomRoomName(() => [0, 1, 0xffffffff, 0xffffffff]),
    "amber-beacon-fzzzzzzzzzzzz",
    "all 64 bits reach the name",
  );
  const seen = new Set(Array.from({ length: 200 }, () => randomRoomName().split("-")[2]));
  assert.equal(seen.size, 200, "the random part does not repeat");
  for (let i = 0; i < 50; i++) assert.ok(isValidChannel(randomRoomName()));
});
