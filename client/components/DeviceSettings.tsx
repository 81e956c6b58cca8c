/** Camera, microphone and speaker pickers. */

import type { CallController } from "../call.ts";
import type { DeviceChoice } from "../store.ts";

const KINDS: { kind: keyof DeviceChoice; label: string }[] = [
  { kind: "videoinput", label: "Camera" },
  { kind: "audioinput", label: "Microphone" },
  { kind: "audiooutput", label: "Speaker" },
];

/** One labelled <select> per device kind; changes apply at once. */
export function DeviceSettings({ call }: { call: CallController }) {
  const { store } = call;
  const devices = store.devices.value;
  const selected = store.selectedDevices.value;
  return (
    <div class="device-settings">
      {KINDS.map(({ kind, label }) => {
        if (kind === "audiooutput" && !store.canPickSpeaker.value) return null;
        const id = `device-${kind}`;
        const list = devices[kind];
        return (
          <div class="field" key={kind}>
            <label for={id}>{label}</label>
            <select
              id={id}
              value={selected[kind]}
              disabled={list.length === 0}
              onChange={(e) => void call.media.selectDevice(kind, e.currentTarget.value)}
            >
              <option value="">Default</option>
              {list.map((d) => <option key={d.id} value={d.id}>{d.label}</option>)}
            </select>
          </div>
        );
      })}
    </div>
  );
}
