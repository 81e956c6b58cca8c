/**
 * What a client address is counted under: address groups (IPv6 by /64, an
 * IPv4-mapped IPv6 address as its IPv4) and the network a group belongs to
 * (IPv6 by /48), with the IPv6 parsing they need. Pure string work.
 *
 * @module
 */

/**
 * The key a client address is counted under: an IPv4 address as it is, an
 * IPv6 address by its /64 (one subscriber's whole prefix: 2^64 addresses
 * that one person may hold), an IPv4-mapped IPv6 address as its IPv4.
 */
export function addressGroup(address: string): string {
  // Most addresses are IPv4: nothing to do (once per connection, on the join storm's path).
  if (!address.includes(":")) return address;
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  if (!bare.includes(":")) return address;
  const groups = ipv6Groups(bare);
  if (groups === undefined) return address;
  // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/**
 * The network an address group belongs to, for what one network may hold
 * at once (places in the hashing queue): an IPv6 /64 group by its /48 (a
 * subscriber often holds a whole /48), anything else as it is.
 */
export function networkOf(group: string): string {
  if (!group.endsWith("::/64")) return group;
  return `${group.slice(0, -5).split(":").slice(0, 3).join(":")}::/48`;
}

/** The eight 16-bit groups of an IPv6 address; undefined if it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  let body = text;
  const tail: string[] = [];
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  const quad = /(?:^|:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(body);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    if ([a, b, c, d].some((n) => n > 255)) return;
    tail.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    body = body.slice(0, quad.index + (quad[0].startsWith(":") ? 1 : 0));
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return;
  const split = (part: string) => part === "" ? [] : part.split(":");
  const head = split(halves[0]);
  const rest = [...(halves.length === 2 ? split(halves[1]) : []), ...tail];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return;
  return all.map((g) => parseInt(g, 16));
}
