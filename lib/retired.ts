/**
 * Retired peer ids (people who left on purpose) kept on disk, so a resume
 * token taken before a restart cannot bring a departed identity back.
 * One JSON file in `DATA_DIR`, rewritten atomically (temp file + rename)
 * when the set changed; entries drop out once their tokens would have
 * expired anyway.
 *
 * @module
 */

const FILE = "retired.json";

/** Retired peer ids and the time (ms since the epoch) until which they stay retired. */
export type RetiredEntries = [peerId: string, until: number][];

/** Reads the retired ids saved in `dataDir`, dropping expired and malformed entries. */
export async function loadRetired(dataDir: string, now: number): Promise<RetiredEntries> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(pathIn(dataDir)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return [];
    throw error;
  }
  if (!Array.isArray(parsed)) return [];
  const out: RetiredEntries = [];
  for (const entry of parsed) {
    if (
      Array.isArray(entry) && typeof entry[0] === "string" && entry[0].length <= 64 &&
      typeof entry[1] === "number" && entry[1] > now
    ) out.push([entry[0], entry[1]]);
  }
  return out;
}

/** Writes `entries` to `dataDir` atomically. */
export async function saveRetired(dataDir: string, entries: RetiredEntries): Promise<void> {
  await Deno.mkdir(dataDir, { recursive: true });
  const temp = `${pathIn(dataDir)}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(entries), { mode: 0o600 });
  await Deno.rename(temp, pathIn(dataDir));
}

function pathIn(dataDir: string): string {
  return `${dataDir.replace(/\/$/, "")}/${FILE}`;
}
