/** The initials shown on a tile while its video is off. */

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join("");
}

/** Up to two initials; hidden from screen readers (the tile is labelled). */
export function Avatar({ name }: { name: string }) {
  return <div class="avatar" aria-hidden="true">{initials(name)}</div>;
}
