/** A small dialog anchored above the controls; Escape or × closes it. */

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

interface PopoverProps {
  title: string;
  onClose(): void;
  children: ComponentChildren;
}

/** A non-modal dialog that takes focus when it opens. */
export function Popover({ title, onClose, children }: PopoverProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
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
      <header class="popover-header">
        <h2>{title}</h2>
        <button
          type="button"
          class="close-chat visible"
          aria-label={`Close ${title}`}
          onClick={onClose}
        >
          ×
        </button>
      </header>
      {children}
    </div>
  );
}
