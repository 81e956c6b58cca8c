/**
 * The resume-token secret: from `SESSION_SECRET`, or generated once and
 * kept in the data directory so a plain restart can still verify the
 * tokens its clients hold.
 *
 * @module
 */

import { toHex } from "./_bytes.ts";

const FILE = "session_secret";

/** Where the secret came from, for the start-up log. */
export type SecretSource = "env" | "file" | "generated";

/**
 * Returns the secret bytes. `configured` (SESSION_SECRET) wins; otherwise
 * `dataDir/session_secret` is read, or created with 32 random bytes
 * (readable by the owner only).
 */
export async function loadSecret(
  configured: string | undefined,
  dataDir: string,
): Promise<{ secret: Uint8Array; source: SecretSource }> {
  if (configured !== undefined) {
    return { secret: new TextEncoder().encode(configured), source: "env" };
  }
  const path = `${dataDir.replace(/\/$/, "")}/${FILE}`;
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (/^[0-9a-f]{64}$/.test(text)) {
      return { secret: new TextEncoder().encode(text), source: "file" };
    }
    throw new TypeError(`Invalid ${path}: expected 64 hex digits (delete it to make a new one)`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const text = toHex(crypto.getRandomValues(new Uint8Array(32)));
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.writeTextFile(path, text + "\n", { mode: 0o600, createNew: true });
  return { secret: new TextEncoder().encode(text), source: "generated" };
}
