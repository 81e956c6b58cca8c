/**
 * Retired peer ids (people who left on purpose) kept on disk, so a resume
 * token taken before a restart cannot bring a departed identity back.
 * One JSON file in `DATA_DIR`, rewritten atomically (temp file + rename)
 * when the set changed; entries drop out once their tokens would have
 * expired anyway.
 *
 * @module
 */

import { readDataFile, writeDataFile } from "./_data_file.ts";

const FILE = "retired.json";

/** Retired peer ids and the time (ms since the epoch) until which they stay retired. */
export type RetiredEntries = [peerId: string, until: number][];

/** Reads the retired ids saved in `dataDir`, dropping expired and malformed entries. */
export async function loadRetired(dataDir: string, now: number): Promise<RetiredEntries> {
  return parseRetired(await readDataFile(dataDir, FILE), now);
}

/** Rebuilds retired entries from parsed JSON, dropping expired and malformed ones. */
export function parseRetired(parsed: unknown, now: number): RetiredEntries {
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
export function saveRetired(dataDir: string, entries: RetiredEntries): Promise<void> {
  return writeDataFile(dataDir, FILE, entries);
}
