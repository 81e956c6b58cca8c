/**
 * Security codes as a person sees them, in Chromium or Firefox: open the
 * dialog from someone's tile menu, read `data-security-code`, close it;
 * wait for a tile's "Verified" / "Security code changed" badge.
 *
 * @module
 */

import { clickButton, type Person, pollPage } from "./_firefox.ts";

/** Waits until `person` has exactly one remote tile named `name`, connected. */
export async function waitForConnectedTile(person: Person, name: string): Promise<void> {
  await pollPage(
    person,
    (who) => {
      const tiles = document.querySelectorAll(`[data-peer-id][aria-label="${who}"]`);
      return tiles.length === 1 && (tiles[0] as HTMLElement).dataset.connection === "connected";
    },
    name,
    { what: `no single connected tile for ${name}` },
  );
}

/**
 * Opens `name`'s security code dialog from their tile menu. The dialog is
 * named after them; it stays open.
 */
export async function openSecurityCode(person: Person, name: string): Promise<void> {
  await waitForConnectedTile(person, name);
  await clickButton(person, `Actions for ${name}`);
  await clickButton(person, "Security code");
  await pollPage(
    person,
    (who) => document.querySelector(`[role="dialog"][aria-label="${who}"]`) !== null,
    name,
    { what: `no dialog named ${name}` },
  );
}

/** Closes the dialog with its Close button; focus goes back to `name`'s tile menu button. */
export async function closeSecurityCode(person: Person, name: string): Promise<void> {
  await clickButton(person, "Close");
  await pollPage(
    person,
    (who) =>
      document.querySelector('[role="dialog"]') === null &&
      document.activeElement?.getAttribute("aria-label") === `Actions for ${who}`,
    name,
    { what: "the dialog stayed open, or focus did not go back to the tile menu" },
  );
}

/** Waits for the open dialog's code (the exchange may still be running) and returns it. */
export function codeShown(person: Person, name: string): Promise<string> {
  return pollPage(
    person,
    (who) => {
      const dialog = document.querySelector(`[role="dialog"][aria-label="${who}"]`);
      const code = dialog?.querySelector<HTMLElement>("[data-security-code]")?.dataset
        .securityCode;
      return code ?? null;
    },
    name,
    {
      what: `no security code for ${name}`,
      explain: () => document.querySelector('[role="dialog"]')?.textContent ?? "no dialog",
    },
  ) as Promise<string>;
}

/** The security code `person` shows for `name`, from the dialog opened and closed again. */
export async function codeFor(person: Person, name: string): Promise<string> {
  await openSecurityCode(person, name);
  const code = await codeShown(person, name);
  await closeSecurityCode(person, name);
  return code;
}

/**
 * Waits until `name`'s tile and People row both say `badge`
 * ("Verified", "Security code changed") or, with `null`, neither says anything.
 */
export async function waitForSecurityBadge(
  person: Person,
  name: string,
  badge: "Verified" | "Security code changed" | null,
): Promise<void> {
  await pollPage(
    person,
    ([who, want]) => {
      const tile = document.querySelector(`[data-peer-id][aria-label="${who}"]`);
      const seen = tile?.querySelector(".security-badge")?.textContent ?? null;
      return tile !== null && seen === want;
    },
    [name, badge] as const,
    {
      what: `${name}'s tile never said ${badge ?? "nothing"}`,
      explain: ([who]) =>
        document.querySelector(`[data-peer-id][aria-label="${who}"] .caption`)?.textContent ??
          "no tile",
    },
  );
}

/** The open dialog's details: [our fingerprint, theirs, our value, theirs]. */
export function detailsShown(person: Person, name: string): Promise<string[]> {
  return pollPage(
    person,
    (who) => {
      const dialog = document.querySelector(`[role="dialog"][aria-label="${who}"]`);
      const items = [...(dialog?.querySelectorAll(".security-details dd") ?? [])].map((dd) =>
        dd.textContent ?? ""
      );
      return items.length === 4 ? items : null;
    },
    name,
    { what: `no details for ${name}'s code` },
  ) as Promise<string[]>;
}

/**
 * The code by hand, as docs/security.md describes it, apart from the
 * client's code: blocks sorted, prefixed, SHA-256, 8 bytes mod 10^15.
 */
export async function codeByHand(
  [localFingerprint, remoteFingerprint, localValue, remoteValue]: string[],
): Promise<string> {
  const blocks = [
    `${localFingerprint}\n${localValue}\n`,
    `${remoteFingerprint}\n${remoteValue}\n`,
  ].sort();
  const input = new TextEncoder().encode(`mesh-security-code-v1\n${blocks.join("")}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  const first8 = [...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return (BigInt(`0x${first8}`) % 10n ** 15n).toString().padStart(15, "0");
}
