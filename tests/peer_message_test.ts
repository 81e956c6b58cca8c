import assert from "node:assert/strict";
import { encodePeerMessage, MAX_CHAT_LENGTH, parsePeerMessage } from "../client/peer_message.ts";

Deno.test("parsePeerMessage accepts chat and state and refuses the rest", () => {
  assert.deepEqual(
    parsePeerMessage(encodePeerMessage({ type: "chat", text: " hi " })),
    {
      type: "chat",
      text: "hi",
    },
  );
  assert.deepEqual(
    parsePeerMessage('{"type":"state","mic":false,"cam":true,"x":1}'),
    { type: "state", mic: false, cam: true, hand: false, screen: null },
  );
  assert.deepEqual(
    parsePeerMessage('{"type":"state","mic":true,"cam":true,"hand":true,"screen":"s1"}'),
    { type: "state", mic: true, cam: true, hand: true, screen: "s1" },
  );
  const long = parsePeerMessage(
    JSON.stringify({ type: "chat", text: "x".repeat(3000) }),
  );
  assert.equal(long?.type === "chat" && long.text.length, MAX_CHAT_LENGTH);
  for (
    const bad of [
      "",
      "null",
      "[]",
      '{"type":"chat"}',
      '{"type":"chat","text":"  "}',
      '{"type":"x"}',
      5,
    ]
  ) {
    assert.equal(parsePeerMessage(bad), undefined, String(bad));
  }
});
