import assert from "node:assert/strict";
import { shortcutFor } from "../client/shortcuts.ts";

Deno.test("shortcutFor maps single keys, but never while typing or with modifiers", () => {
  const key = (k: string, extra: Partial<Parameters<typeof shortcutFor>[0]> = {}) =>
    shortcutFor({
      key: k,
      shiftKey: false,
      ctrlKey: false,
      metaKey: false,
      altKey: false,
      ...extra,
    });
  assert.equal(key("m"), "mic");
  assert.equal(key("V"), "camera");
  assert.equal(key("h"), "hand");
  assert.equal(key("c"), "chat");
  assert.equal(key("?", { shiftKey: true }), "help");
  assert.equal(key("L", { shiftKey: true }), "leave");
  assert.equal(key("l"), null, "leaving needs Shift");
  assert.equal(key("m", { ctrlKey: true }), null);
  assert.equal(key("m", { repeat: true }), null);
  assert.equal(key("m", { target: { tagName: "INPUT" } }), null);
  assert.equal(key("m", { target: { tagName: "DIV", isContentEditable: true } }), null);
  assert.equal(key("x"), null);
});
