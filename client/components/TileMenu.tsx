/** The menu on someone's tile: their security code, and a host's actions as in People. */

import { useRef, useState } from "preact/hooks";
import type { CallController } from "../call.ts";
import { HostActions } from "./HostActions.tsx";

interface TileMenuProps {
  call: CallController;
  peerId: string;
  name: string;
  isHost: boolean;
  /** Whether we are a host (their host actions show). */
  amHost: boolean;
}

/** A "⋯" button that shows the actions; Escape closes it. */
export function TileMenu({ call, peerId, name, isHost, amHost }: TileMenuProps) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  return (
    <div
      class="tile-menu"
      onKeyDown={(e) => {
        if (e.key === "Escape" && open) {
          e.stopPropagation();
          setOpen(false);
        }
      }}
    >
      <button
        ref={button}
        type="button"
        class="tile-menu-button"
        aria-label={`Actions for ${name}`}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        ⋯
      </button>
      {open && (
        <div class="tile-menu-items">
          <button
            type="button"
            onClick={() => {
              // The menu closes; the dialog gives focus back to its button.
              button.current?.focus();
              setOpen(false);
              call.store.openSecurityCode(peerId);
            }}
          >
            Security code
          </button>
          {amHost && (
            <HostActions
              call={call}
              peerId={peerId}
              name={name}
              isHost={isHost}
              onDone={() => setOpen(false)}
            />
          )}
        </div>
      )}
    </div>
  );
}
