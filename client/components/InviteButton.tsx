/** Shows the room link and copies it on click. */

import { useState } from "preact/hooks";
import { Icon } from "./Icon.tsx";

/** "Copy invite link" with feedback that works without clipboard access. */
export function InviteButton(
  { url, compact = false }: { url: string; compact?: boolean },
) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setState("copied");
    } catch {
      setState("failed");
    }
    setTimeout(() => setState("idle"), 2000);
  };
  return (
    <div class={compact ? "invite compact" : "invite"}>
      {!compact && <code class="invite-url">{url}</code>}
      <button
        type="button"
        class={compact ? "round" : ""}
        aria-label="Copy invite link"
        title="Copy invite link"
        onClick={copy}
      >
        <Icon name="link" />
        {!compact && <span>Copy invite link</span>}
      </button>
      <span class="sr-status" role="status">
        {state === "copied"
          ? "Link copied"
          : state === "failed"
          ? "Copy failed: select the link"
          : ""}
      </span>
    </div>
  );
}
