/** Everyone in the room with their microphone, camera and hand state. */

import type { CallStore } from "../store.ts";
import { Icon } from "./Icon.tsx";

interface Row {
  id: string;
  name: string;
  micOn: boolean;
  camOn: boolean;
  handRaised: boolean;
  away?: boolean;
}

/** The people list; raised hands come first, in the order people joined. */
export function ParticipantList({ store }: { store: CallStore }) {
  const rows: Row[] = [
    {
      id: "self",
      name: `${store.name.value} (you)`,
      micOn: store.micOn.value,
      camOn: store.camOn.value,
      handRaised: store.handRaised.value,
    },
    ...store.participantList.value,
  ];
  rows.sort((a, b) => Number(b.handRaised) - Number(a.handRaised));
  return (
    <ul class="people">
      {rows.map((p) => (
        <li key={p.id} data-person={p.id}>
          <span class="person-name">
            {p.name}
            {p.away && <span class="away">(reconnecting)</span>}
          </span>
          <span class="person-state">
            {p.handRaised && (
              <span class="badge hand" aria-label="hand raised">
                <Icon name="hand" />
              </span>
            )}
            <span
              class={p.micOn ? "state-on" : "state-off"}
              aria-label={p.micOn ? "microphone on" : "muted"}
            >
              <Icon name={p.micOn ? "mic" : "micOff"} />
            </span>
            <span
              class={p.camOn ? "state-on" : "state-off"}
              aria-label={p.camOn ? "camera on" : "camera off"}
            >
              <Icon name={p.camOn ? "cam" : "camOff"} />
            </span>
          </span>
        </li>
      ))}
    </ul>
  );
}
