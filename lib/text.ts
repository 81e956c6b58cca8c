/**
 * Text from strangers as both ends handle it: its size in UTF-8 bytes (what
 * the wire limits count), and names and chat lines cleaned of the control,
 * bidi and invisible characters that would let them spoof the UI. Shared by
 * the server and the browser client (through `protocol.ts`), so it touches
 * neither `Deno.*` nor the DOM.
 *
 * @module
 */

/** Longest display name, in characters (a knock's name). */
export const MAX_NAME_LENGTH = 40;

// Also invisible ones (zero-width, bidi marks, BOM, soft hyphen, fillers, line and paragraph
// separators, interlinear annotation marks), so "Al\u200Bice" cannot pass for "Alice".
// Variation selectors stay: emoji need them.
const UNPRINTABLE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\u3164\ufeff\uffa0\ufff9-\ufffb]/g;

/** Removes control, bidi and invisible characters (a chat line keeps its line breaks). */
export function stripUnprintable(text: string, { keepNewlines = false } = {}): string {
  return keepNewlines
    ? text.replace(UNPRINTABLE, (c) => c === "\n" ? c : "")
    : text.replace(UNPRINTABLE, "");
}

/** Turns whatever arrived as a name into a short, printable one. */
export function cleanName(value: unknown, fallback = "Guest"): string {
  if (typeof value !== "string") return fallback;
  // Control characters and bidi overrides would let a name spoof the UI.
  const name = value.replace(UNPRINTABLE, "").trim().slice(0, MAX_NAME_LENGTH);
  return name === "" ? fallback : name;
}

const ENCODER = new TextEncoder();

/** Returns the UTF-8 length of `text` in bytes. */
export function utf8Length(text: string): number {
  // Cheap exact answer for the common all-ASCII frame; encode only otherwise.
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : ENCODER.encode(text).length;
}
