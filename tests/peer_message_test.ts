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

Deno.test("parsePeerMessage strips bidi overrides and invisible characters from chat, as from names", () => {
  const spoof = "see \u202egnp.exe\u202c and \u200bhidden\u2066 text\u2069\u061c\ufeff";
  assert.deepEqual(parsePeerMessage(encodePeerMessage({ type: "chat", text: spoof })), {
    type: "chat",
    text: "see gnp.exe and hidden text",
  });
  assert.deepEqual(
    parsePeerMessage(encodePeerMessage({ type: "chat", text: "two\nlines\u0007" })),
    { type: "chat", text: "two\nlines" },
    "line breaks stay; other control characters go",
  );
  assert.equal(
    parsePeerMessage(encodePeerMessage({ type: "chat", text: "\u202e\u200b" })),
    undefined,
    "nothing printable left: no message",
  );
});

Deno.test("parsePeerMessage drops C1 controls, soft hyphens and fillers, keeps emoji whole", () => {
  const text = "a\u0085b\u00adc\u2028d\u3164e\ufff9f ❤️";
  assert.deepEqual(parsePeerMessage(encodePeerMessage({ type: "chat", text })), {
    type: "chat",
    text: "abcdef ❤️",
  });
  assert.equal(parsePeerMessage(encodePeerMessage({ type: "chat", text: "\u00ad" })), undefined);
});

Deno.test("parsePeerMessage accepts a browser id of the server's id shape only", () => {
  assert.deepEqual(
    parsePeerMessage(encodePeerMessage({ type: "browser", id: "abc_DEF-123" })),
    { type: "browser", id: "abc_DEF-123" },
  );
  assert.deepEqual(parsePeerMessage('{"type":"browser","id":"a","x":1}'), {
    type: "browser",
    id: "a",
  });
  for (const id of ["", "a b", "x".repeat(65), 7, null, "é"]) {
    assert.equal(parsePeerMessage(JSON.stringify({ type: "browser", id })), undefined);
  }
});
