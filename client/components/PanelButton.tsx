/** A control-bar button that opens or closes one of the call's popovers. */

import type { CallStore, Panel } from "../store.ts";
import { Icon, type IconName } from "./Icon.tsx";

interface PanelButtonProps {
  store: CallStore;
  panel: Panel;
  /** The button's name, as screen readers and tests know it. */
  label: string;
  icon: IconName;
  /** Runs before the popover opens or closes (e.g. refreshing the device lists). */
  onToggle?(): void;
}

/** `aria-expanded` says whether its popover is the one showing. */
export function PanelButton({ store, panel, label, icon, onToggle }: PanelButtonProps) {
  return (
    <button
      type="button"
      class="round"
      aria-label={label}
      aria-expanded={store.openPanel.value === panel}
      onClick={() => {
        onToggle?.();
        store.togglePanel(panel);
      }}
    >
      <Icon name={icon} />
    </button>
  );
}
