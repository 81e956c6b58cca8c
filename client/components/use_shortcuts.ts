/**
 * The call's keyboard shortcuts, wired to the document for as long as the
 * room is on screen. Which key means what lives in `shortcuts.ts`.
 *
 * @module
 */

import { useEffect } from "preact/hooks";
import type { CallController } from "../call.ts";
import { shortcutFor } from "../shortcuts.ts";

/** Listens for shortcut keys (and Escape) while the calling component is mounted. */
export function useShortcuts(call: CallController): void {
  useEffect(() => {
    const { store, media } = call;
    const onKey = (event: KeyboardEvent) => {
      // Escape closes an open popover or dialog wherever the focus is.
      if (event.key === "Escape") {
        store.closePanel();
        store.closeSecurityCode();
        return;
      }
      const action = shortcutFor({
        key: event.key,
        shiftKey: event.shiftKey,
        ctrlKey: event.ctrlKey,
        metaKey: event.metaKey,
        altKey: event.altKey,
        repeat: event.repeat,
        target: event.target as HTMLElement | null,
      });
      if (action === null) return;
      event.preventDefault();
      if (action === "mic") void media.toggleMic();
      else if (action === "camera") void media.toggleCamera();
      else if (action === "hand") call.toggleHand();
      else if (action === "chat") store.toggleChat();
      else if (action === "leave") call.leave();
      else store.togglePanel("help");
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [call]);
}
