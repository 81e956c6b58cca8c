/** A small dialog anchored above the controls; Escape or × closes it. */

import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

interface PopoverProps {
  title: string;
  onClose(): void;
  children: ComponentChildren;
}

/**
 * A non-modal dialog that takes focus when it opens and gives it back to
 * whatever had it (the button that opened it) when it closes — unless the
 * person has moved focus elsewhere meanwhile.
 */
export function Popover({ title, onClose, children }: PopoverProps) {
  const ref = useRef<HTMLDivElement>(null);
  // A layout effect: focus moves as the dialog appears, so no keystroke
  // typed in between lands on the button behind it.
  useLayoutEffect(() => {
    const opener = document.activeElement;
    const dialog = ref.current;
    dialog?.focus();
    return () => {
      const focus = document.activeElement;
      const lost = focus === null || focus === document.body || dialog?.contains(focus);
      if (lost && opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <div
      ref={ref}
      class="popover"
      role="dialog"
      aria-label={title}
      tabIndex={-1}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          onClose();
        }
      }}
    >
      {/* A div, not <header>: a header outside sectioning content is a second banner. */}
      <div class="popover-header">
        <h2>{title}</h2>
        <button
          type="button"
          class="close-chat visible"
          aria-label={`Close ${title}`}
          onClick={onClose}
        >
          ×
        </button>
      </div>
      {children}
    </div>
  );
}
