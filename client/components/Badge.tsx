/** A state icon with a spoken label: "muted", "camera off", "hand raised". */

import { Icon, type IconName } from "./Icon.tsx";

interface BadgeProps {
  icon: IconName;
  /** What a screen reader says for it. */
  label: string;
  /** The tooltip; defaults to the label. */
  title?: string;
  class?: string;
}

/**
 * `role="img"` makes the label valid: ARIA forbids `aria-label` on a
 * plain `<span>`, and screen readers would skip it.
 */
export function Badge({ icon, label, title, class: className = "badge" }: BadgeProps) {
  return (
    <span class={className} role="img" aria-label={label} title={title ?? label}>
      <Icon name={icon} />
    </span>
  );
}
