/** The polite live region: joins, leaves, chat messages and raised hands, spoken once. */

import type { Announcement } from "../store.ts";

/**
 * Visually hidden; mounted with the room so it exists before anything is
 * added to it (a region that appears with text in it is not read).
 */
export function Announcer({ items }: { items: readonly Announcement[] }) {
  return (
    <div class="sr-status announcer" role="log" aria-live="polite" aria-relevant="additions">
      {items.map((a) => <p key={a.id}>{a.text}</p>)}
    </div>
  );
}
