import assert from "node:assert/strict";
import { createLogger, MAX_FIELD_LENGTH } from "../lib/log.ts";

Deno.test("createLogger clips long string fields (attacker-supplied values)", () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  logger.log("warn", "refused", { origin: "x".repeat(8303), short: "ok" });
  const fields = JSON.parse(lines[0]);
  assert.ok(fields.origin.length < MAX_FIELD_LENGTH + 30, `${fields.origin.length} chars`);
  assert.match(fields.origin, /8303 chars/);
  assert.equal(fields.short, "ok");
});
