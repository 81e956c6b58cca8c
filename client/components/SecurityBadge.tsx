/** "Verified", or "Security code changed" in a warning style, beside a person's name. */

import type { SecurityView } from "../store.ts";

/** Nothing for someone never verified. */
export function SecurityBadge({ security }: { security: SecurityView }) {
  if (security.verified === "verified") {
    return <span class="security-badge verified" data-verified="verified">Verified</span>;
  }
  if (security.verified === "changed") {
    return (
      <span class="security-badge changed" data-verified="changed">Security code changed</span>
    );
  }
  return null;
}
