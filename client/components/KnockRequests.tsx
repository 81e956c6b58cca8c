/** For hosts: who is asking to join, with Admit and Deny. */

import type { CallController } from "../call.ts";

/** A panel above the controls while anyone is waiting at the door. */
export function KnockRequests({ call }: { call: CallController }) {
  const knocks = call.store.knocks.value;
  if (!call.store.isHost.value || knocks.length === 0) return null;
  return (
    <section class="knocks" aria-label="Requests to join">
      <h2>Asking to join</h2>
      <ul>
        {knocks.map((k) => (
          <li key={k.id} data-knock={k.id}>
            <span class="knock-name">{k.name}</span>
            <button type="button" class="primary" onClick={() => call.hostAction("admit", k.id)}>
              Admit
            </button>
            <button type="button" onClick={() => call.hostAction("deny", k.id)}>Deny</button>
          </li>
        ))}
      </ul>
      {knocks.length > 1 && (
        <button
          type="button"
          onClick={() => {
            for (const k of knocks) call.hostAction("admit", k.id);
          }}
        >
          Admit all
        </button>
      )}
    </section>
  );
}
