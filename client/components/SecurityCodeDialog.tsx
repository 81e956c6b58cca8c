/** The security code of our connection to one person, to compare on another channel. */

import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { CallController } from "../call.ts";
import { formatCode } from "../security_code.ts";
import type { Participant } from "../store.ts";
import { SAS_FAILURE } from "../sas_exchange.ts";

interface SecurityCodeDialogProps {
  call: CallController;
  participant: Participant;
}

const FOCUSABLE = "button:not([disabled]), [href], input, select, textarea, [tabindex='0']";

/**
 * A modal dialog named after the person: the code in large type, what to
 * do with it, and "Mark as verified" / "Remove verification". Focus stays
 * inside while it is open (Tab wraps), Escape or Close closes it, and
 * focus goes back to whatever opened it.
 */
export function SecurityCodeDialog({ call, participant }: SecurityCodeDialogProps) {
  const { store } = call;
  const ref = useRef<HTMLDivElement>(null);
  const { id, name, security } = participant;
  useLayoutEffect(() => {
    const opener = document.activeElement;
    ref.current?.focus();
    return () => {
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  // "Mark as verified" gives way to "Remove verification" (and back): focus
  // follows to the button now there rather than falling out of the dialog.
  useEffect(() => {
    const dialog = ref.current;
    const focus = document.activeElement;
    if (dialog === null || (focus !== null && focus !== document.body)) return;
    (dialog.querySelector<HTMLElement>(".security-actions button:not([disabled])") ?? dialog)
      .focus();
  }, [security.verified]);
  const close = () => store.closeSecurityCode();
  const persistent = store.certificatePersistent.value;
  return (
    <div class="modal-backdrop">
      <div
        ref={ref}
        class="modal security-dialog"
        role="dialog"
        aria-modal="true"
        aria-label={name}
        tabIndex={-1}
        data-security-state={security.state}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            close();
          } else if (e.key === "Tab") {
            trapTab(e, ref.current);
          }
        }}
      >
        <div class="popover-header">
          <h2>{name}</h2>
          <button type="button" class="close-chat visible" aria-label="Close" onClick={close}>
            ×
          </button>
        </div>
        <h3 class="security-title">Security code</h3>
        {security.state === "code" && security.code !== null
          ? (
            <p class="security-code" data-security-code={security.code}>
              {formatCode(security.code)}
            </p>
          )
          : security.state === "failed"
          ? <p class="security-failed" role="alert">{SAS_FAILURE}</p>
          : <p class="security-pending" role="status">Checking the connection…</p>}
        <p>
          Read this code to {name}{" "}
          on another channel (a phone call, or in person): if you both see the same digits, nobody
          sits between you.
        </p>
        {persistent === false && (
          <p class="security-note">
            This browser cannot keep its certificate, so your codes change in every meeting.
          </p>
        )}
        {security.verified === "verified" && (
          <p class="security-verified">
            <span class="security-badge verified">Verified</span> You compared this code with{" "}
            {name}.
          </p>
        )}
        {security.verified === "changed" && (
          <p class="security-changed">
            Security code changed since you verified {name}.
          </p>
        )}
        {!security.canVerify && security.state === "code" && (
          <p class="security-note">
            {name}'s browser does not say who it is, so a verification cannot be remembered.
          </p>
        )}
        {security.details !== null && (
          <details class="security-details">
            <summary>How this code is made</summary>
            <p>
              From both certificate fingerprints and both random values, as docs/security.md
              explains.
            </p>
            <dl>
              <dt>Your certificate</dt>
              {security.details.local.map((line) => <dd key={line}>{line}</dd>)}
              <dt>{name}'s certificate</dt>
              {security.details.remote.map((line) => <dd key={line}>{line}</dd>)}
              <dt>Your value</dt>
              <dd>{security.details.localValue}</dd>
              <dt>{name}'s value</dt>
              <dd>{security.details.remoteValue}</dd>
            </dl>
          </details>
        )}
        <div class="security-actions">
          {security.verified !== "verified" && (
            <button
              type="button"
              class="primary"
              disabled={security.state !== "code" || !security.canVerify}
              onClick={() => call.setVerified(id, security.code)}
            >
              Mark as verified
            </button>
          )}
          {security.verified !== "unverified" && (
            <button
              type="button"
              onClick={() => call.setVerified(id, null)}
            >
              Remove verification
            </button>
          )}
        </div>
      </div>
    </div>
  );
}

/** Keeps Tab and Shift+Tab among the dialog's own controls. */
function trapTab(event: KeyboardEvent, dialog: HTMLElement | null) {
  if (dialog === null) return;
  const items = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)];
  if (items.length === 0) return event.preventDefault();
  const first = items[0];
  const last = items[items.length - 1];
  const focus = document.activeElement;
  if (event.shiftKey && (focus === first || focus === dialog)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (focus === last || !dialog.contains(focus))) {
    event.preventDefault();
    first.focus();
  }
}
