import assert from "node:assert/strict";
import { loadSecret } from "../lib/secret.ts";
Deno.test("loadSecret generates a secret once, keeps it, and prefers SESSION_SECRET", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await loadSecret(undefined, `${dir}/data`);
    assert.equal(first.source, "generated");
    const again = await loadSecret(undefined, `${dir}/data`);
    assert.equal(again.source, "file");
    assert.deepEqual(again.secret, first.secret, "a restart verifies old tokens");
    assert.equal((await Deno.stat(`${dir}/data/session_secret`)).mode! & 0o777, 0o600);
    const env = await loadSecret("x".repeat(40), `${dir}/data`);
    assert.equal(env.source, "env");
    await Deno.writeTextFile(`${dir}/data/session_secret`, "short");
    await assert.rejects(() => loadSecret(undefined, `${dir}/data`), /expected 64 hex digits/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
