/**
 * Keyboard shortcuts in the call. Single keys, as in most meeting apps,
 * but never while typing in a field, and never with Ctrl/Meta/Alt so
 * browser shortcuts keep working.
 *
 * @module
 */

/** What a shortcut does. */
export type ShortcutAction =
  | "mic"
  | "camera"
  | "hand"
  | "chat"
  | "leave"
  | "help";

/** The shortcuts, in the order the help lists them. */
export const SHORTCUTS: readonly {
  keys: string;
  action: ShortcutAction;
  label: string;
}[] = [
  { keys: "M", action: "mic", label: "Mute or unmute the microphone" },
  { keys: "V", action: "camera", label: "Turn the camera off or on" },
  { keys: "H", action: "hand", label: "Raise or lower your hand" },
  { keys: "C", action: "chat", label: "Show or hide the chat" },
  { keys: "Shift+L", action: "leave", label: "Leave the call" },
  { keys: "?", action: "help", label: "Show these shortcuts" },
];

/** The parts of a KeyboardEvent that decide a shortcut. */
export interface KeyLike {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  repeat?: boolean;
  /** The focused element's tag and whether it is editable. */
  target?: { tagName?: string; isContentEditable?: boolean } | null;
}

const TYPING_TAGS = new Set(["INPUT", "TEXTAREA", "SELECT"]);

/** The action for a key press, or `null` when it is not a shortcut here. */
export function shortcutFor(event: KeyLike): ShortcutAction | null {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
    return null;
  }
  const target = event.target;
  if (
    target &&
    (TYPING_TAGS.has(target.tagName ?? "") || target.isContentEditable)
  ) return null;
  switch (event.key) {
    case "m":
    case "M":
      return event.shiftKey ? null : "mic";
    case "v":
    case "V":
      return event.shiftKey ? null : "camera";
    case "h":
    case "H":
      return event.shiftKey ? null : "hand";
    case "c":
    case "C":
      return event.shiftKey ? null : "chat";
    case "L":
      return event.shiftKey ? "leave" : null;
    case "?":
      return "help";
    default:
      return null;
  }
}
