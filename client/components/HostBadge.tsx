/** The "Host" label next to a host's name, on tiles and in People. */

/** Plain text, so it reads as "Ann Host" to a screen reader and needs no icon. */
export function HostBadge() {
  return <span class="badge host-badge">Host</span>;
}
