/** Everyone in the room with their microphone, camera and hand state. */

import type { CallController } from "../call.ts";
import { Badge } from "./Badge.tsx";
import { HostActions } from "./HostActions.tsx";
import { HostBadge } from "./HostBadge.tsx";
import { SecurityBadge } from "./SecurityBadge.tsx";
import type { SecurityView } from "../store.ts";

interface Row {
  id: string;
  name: string;
  micOn: boolean;
  camOn: boolean;
  handRaised: boolean;
  away?: boolean;
  /** Absent on our own row. */
  security?: SecurityView;
}

/**
 * The people list; raised hands come first, in the order people joined.
 * Hosts see, on everyone else's row, what they can do to them.
 */
export function ParticipantList({ call }: { call: CallController }) {
  const { store } = call;
  const hosts = store.authority.value?.hosts ?? [];
  const amHost = store.isHost.value;
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
            {(p.id === "self" ? amHost : hosts.includes(p.id)) && <HostBadge />}
            {p.security !== undefined && <SecurityBadge security={p.security} />}
          </span>
          <span class="person-state">
            {p.handRaised && <Badge class="badge hand" icon="hand" label="hand raised" />}
            <Badge
              class={p.micOn ? "state-on" : "state-off"}
              icon={p.micOn ? "mic" : "micOff"}
              label={p.micOn ? "microphone on" : "muted"}
            />
            <Badge
              class={p.camOn ? "state-on" : "state-off"}
              icon={p.camOn ? "cam" : "camOff"}
              label={p.camOn ? "camera on" : "camera off"}
            />
          </span>
          {p.id !== "self" && (
            <button
              type="button"
              class="security-open"
              aria-label={`Security code for ${p.name}`}
              onClick={() => store.openSecurityCode(p.id)}
            >
              Security code
            </button>
          )}
          {amHost && p.id !== "self" && (
            <HostActions
              call={call}
              peerId={p.id}
              name={p.name}
              isHost={hosts.includes(p.id)}
            />
          )}
        </li>
      ))}
    </ul>
  );
}
