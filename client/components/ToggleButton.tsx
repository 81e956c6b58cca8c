/** A round control-bar toggle: its name stays, `aria-pressed` says whether it is on. */

import { Icon, type IconName } from "./Icon.tsx";

interface ToggleButtonProps {
  label: string;
  title: string;
  pressed: boolean;
  icon: IconName;
  onClick(): void;
}

/** One toggle of the control bar (screen share, hand, lock). */
export function ToggleButton({ label, title, pressed, icon, onClick }: ToggleButtonProps) {
  return (
    <button
      type="button"
      class="round toggle"
      aria-label={label}
      title={title}
      aria-pressed={pressed}
      onClick={onClick}
    >
      <Icon name={icon} />
    </button>
  );
}
