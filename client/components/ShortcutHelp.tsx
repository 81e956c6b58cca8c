/** The keyboard shortcut list shown in the help popover. */

import { SHORTCUTS } from "../shortcuts.ts";

/** A definition list of keys and what they do. */
export function ShortcutHelp() {
  return (
    <dl class="shortcuts">
      {SHORTCUTS.map((s) => (
        <div key={s.action} class="shortcut">
          <dt>
            <kbd>{s.keys}</kbd>
          </dt>
          <dd>{s.label}</dd>
        </div>
      ))}
    </dl>
  );
}
