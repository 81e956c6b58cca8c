/**
 * Random room names for the lobby's "New room" button: a readable prefix
 * ("calm-otter") and 64 random bits in 13 base-32 characters
 * ("calm-otter-k3x9m2p7q4z8w"). The link is the key to the room, so the
 * random part must not be guessable by scanning: 2^64 names cannot be
 * enumerated through a server that answers a few thousand joins a second.
 *
 * @module
 */

const ADJECTIVES = [
  "amber",
  "brave",
  "bright",
  "calm",
  "clever",
  "cosmic",
  "crisp",
  "daring",
  "eager",
  "gentle",
  "golden",
  "happy",
  "jolly",
  "lively",
  "lucky",
  "mellow",
  "misty",
  "noble",
  "quiet",
  "rapid",
  "silver",
  "sunny",
  "swift",
  "tidy",
  "vivid",
  "warm",
  "wild",
  "witty",
  "young",
  "zesty",
  "bold",
  "cheery",
];

const NOUNS = [
  "badger",
  "beacon",
  "canyon",
  "comet",
  "falcon",
  "fern",
  "harbor",
  "heron",
  "island",
  "lagoon",
  "lantern",
  "maple",
  "meadow",
  "otter",
  "panda",
  "pebble",
  "pine",
  "planet",
  "puffin",
  "quartz",
  "raven",
  "river",
  "robin",
  "sparrow",
  "summit",
  "tiger",
  "tulip",
  "valley",
  "walrus",
  "willow",
  "yak",
  "zebra",
];

function randomWords(count: number): number[] {
  return [...crypto.getRandomValues(new Uint32Array(count))];
}

/** Base 32 without the look-alikes i, l, o, u (Crockford's alphabet, lower case). */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** Characters of the random part: 13 × 5 bits hold the 64 random bits. */
export const ROOM_SUFFIX_LENGTH = 13;

/** Returns a new room name; `random` yields `count` unsigned 32-bit ints. */
export function randomRoomName(
  random: (count: number) => number[] = randomWords,
): string {
  const [a, b, high, low] = random(4);
  let bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  let suffix = "";
  for (let i = 0; i < ROOM_SUFFIX_LENGTH; i++) {
    suffix = ALPHABET[Number(bits & 31n)] + suffix;
    bits >>= 5n;
  }
  return `${ADJECTIVES[a % ADJECTIVES.length]}-${NOUNS[b % NOUNS.length]}-${suffix}`;
}
