import assert from "node:assert/strict";
import { describeMediaError } from "../client/wording.ts";

Deno.test("describeMediaError covers missing and busy devices", () => {
  assert.match(
    describeMediaError(new DOMException("x", "NotFoundError")),
    /No camera or microphone/,
  );
  assert.match(
    describeMediaError(new DOMException("x", "NotReadableError")),
    /in use/,
  );
  assert.match(describeMediaError("weird"), /unavailable/);
});
