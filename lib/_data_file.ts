/**
 * JSON files in `DATA_DIR`: read leniently (a missing or corrupt file is
 * "nothing saved"), written atomically (temp file + rename, mode 0600).
 *
 * @module
 */

/** The parsed JSON of `name` in `dataDir`; undefined if it is missing or not JSON. */
export async function readDataFile(dataDir: string, name: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(pathIn(dataDir, name)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Writes `value` as JSON to `name` in `dataDir` atomically. */
export async function writeDataFile(dataDir: string, name: string, value: unknown): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = pathIn(dataDir, name);
  await Deno.writeTextFile(`${path}.tmp`, JSON.stringify(value), { mode: 0o600 });
  await Deno.rename(`${path}.tmp`, path);
}

function pathIn(dataDir: string, name: string): string {
  return `${dataDir.replace(/\/$/, "")}/${name}`;
}
