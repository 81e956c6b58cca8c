/** What a host can do to one person: make them host, ask them to mute, remove them. */

import type { CallController } from "../call.ts";

interface HostActionsProps {
  call: CallController;
  peerId: string;
  name: string;
  /** Whether they are a host already (no "Make host" then). */
  isHost: boolean;
  /** Called after an action, e.g. to close the menu it sits in. */
  onDone?(): void;
}

/**
 * The buttons; the server checks the role, so a page that shows them by
 * mistake still cannot act.
 */
export function HostActions({ call, peerId, name, isHost, onDone }: HostActionsProps) {
  const act = (run: () => void) => () => {
    run();
    onDone?.();
  };
  return (
    <span class="host-actions" role="group" aria-label={`Host actions for ${name}`}>
      {!isHost && (
        <button type="button" onClick={act(() => call.hostAction("makeHost", peerId))}>
          Make host
        </button>
      )}
      <button type="button" onClick={act(() => call.hostAction("mute", peerId))}>
        Ask to mute
      </button>
      <button
        type="button"
        class="danger"
        onClick={act(() => call.removeFromRoom(peerId, name))}
      >
        Remove
      </button>
    </span>
  );
}
