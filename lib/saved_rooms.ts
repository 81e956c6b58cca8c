/**
 * Rooms' authority (hosts, lock, pending knocks, password hash, removed
 * browsers, members) kept on disk, so a restart loses none of it: members
 * come back by resuming, keyed by the same peer ids. One JSON file in
 * `DATA_DIR`, `rooms.json`, rewritten atomically when anything changed.
 * It holds password hashes and browser ids: mode 0600, like the secret.
 *
 * @module
 */

import { readDataFile, writeDataFile } from "./_data_file.ts";
import { parseRoomSnapshots, type RoomSnapshot } from "./authority.ts";
import { isObject } from "./protocol.ts";

const FILE = "rooms.json";

/** The file's format version. */
const VERSION = 1;

/** Reads the rooms saved in `dataDir`; a missing, corrupt or unknown-version file is none. */
export async function loadRooms(dataDir: string): Promise<RoomSnapshot[]> {
  const parsed = await readDataFile(dataDir, FILE);
  if (!isObject(parsed) || parsed.version !== VERSION) return [];
  return parseRoomSnapshots(parsed.rooms);
}

/** Writes `rooms` to `dataDir` atomically. */
export function saveRooms(dataDir: string, rooms: RoomSnapshot[]): Promise<void> {
  return writeDataFile(dataDir, FILE, { version: VERSION, rooms });
}
