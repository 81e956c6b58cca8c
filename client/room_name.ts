/**
 * Readable random room names ("calm-otter-4821") for the lobby's
 * "New room" button: easy to read aloud, hard to guess by chance.
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

/** Returns a new room name; `random` yields `count` unsigned 32-bit ints. */
export function randomRoomName(
  random: (count: number) => number[] = randomWords,
): string {
  const [a, b, c] = random(3);
  const number = String(c % 10000).padStart(4, "0");
  return `${ADJECTIVES[a % ADJECTIVES.length]}-${NOUNS[b % NOUNS.length]}-${number}`;
}
