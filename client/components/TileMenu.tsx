/** A host's menu on someone's tile: the same actions as in People. */

import { useState } from "preact/hooks";
import type { CallController } from "../call.ts";
import { HostActions } from "./HostActions.tsx";

interface TileMenuProps {
  call: CallController;
  peerId: string;
  name: string;
  isHost: boolean;
}

/** A "⋯" button that shows the host actions; Escape closes it. */
export function TileMenu({ call, peerId, name, isHost }: TileMenuProps) {
  const [open, setOpen] = useState(false);
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
        type="button"
        class="tile-menu-button"
        aria-label={`Actions for ${name}`}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        ⋯
      </button>
      {open && (
        <HostActions
          call={call}
          peerId={peerId}
          name={name}
          isHost={isHost}
          onDone={() => setOpen(false)}
        />
      )}
    </div>
  );
}
