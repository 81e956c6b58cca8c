/** The microphone and camera buttons, shared by the pre-join screen and the call. */

import type { CallController } from "../call.ts";
import { Icon } from "./Icon.tsx";

/** Two toggle buttons whose `aria-pressed` says whether the device is on. */
export function MediaToggles({ call }: { call: CallController }) {
  const { micOn, camOn } = call.store;
  return (
    <>
      <button
        type="button"
        class="round"
        aria-label="Microphone"
        title={micOn.value ? "Mute microphone (M)" : "Unmute microphone (M)"}
        aria-pressed={micOn.value}
        onClick={() => void call.media.toggleMic()}
      >
        <Icon name={micOn.value ? "mic" : "micOff"} />
      </button>
      <button
        type="button"
        class="round"
        aria-label="Camera"
        title={camOn.value ? "Turn camera off (V)" : "Turn camera on (V)"}
        aria-pressed={camOn.value}
        onClick={() => void call.media.toggleCamera()}
      >
        <Icon name={camOn.value ? "cam" : "camOff"} />
      </button>
    </>
  );
}
