/** IPv4 CIDR arithmetic for subnet planning and overlap checks. Pure; no Pulumi. */

export interface Cidr {
  readonly base: number;
  readonly prefixLength: number;
}

/** An address and prefix length, host bits allowed (`10.0.0.1/24`). */
function parseAddressAndPrefix(text: string): Cidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefixLength = Number(match[5]);
  if (octets.some((o) => o > 255) || prefixLength > 32) return undefined;
  return { base: octets.reduce((acc, o) => acc * 256 + o, 0), prefixLength };
}

export function parseCidr(text: string): Cidr | undefined {
  const cidr = parseAddressAndPrefix(text);
  if (!cidr || cidr.base % blockSize(cidr.prefixLength) !== 0) return undefined; // host bits set, e.g. 10.0.0.1/24
  return cidr;
}

/** The network a CIDR with host bits set lies in: `10.0.0.1/12` → `10.0.0.0/12`; undefined if not a CIDR at all. */
export function alignedCidr(text: string): string | undefined {
  const cidr = parseAddressAndPrefix(text);
  if (!cidr) return undefined;
  const size = blockSize(cidr.prefixLength);
  return formatCidr({ base: Math.floor(cidr.base / size) * size, prefixLength: cidr.prefixLength });
}

function blockSize(prefixLength: number): number {
  return 2 ** (32 - prefixLength);
}

export function formatCidr(cidr: Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(cidr.base / 2 ** shift) % 256);
  return `${octets.join(".")}/${cidr.prefixLength}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + blockSize(b.prefixLength) && b.base < a.base + blockSize(a.prefixLength);
}

/** The `index`-th block of length `prefixLength` inside `pool`, or undefined past its end. */
export function nthSubnet(pool: Cidr, prefixLength: number, index: number): Cidr | undefined {
  if (prefixLength < pool.prefixLength) return undefined;
  const count = 2 ** (prefixLength - pool.prefixLength);
  if (index < 0 || index >= count) return undefined;
  return { base: pool.base + index * blockSize(prefixLength), prefixLength };
}

/**
 * Ranges Google reserves or routes itself, which a subnet must not overlap
 * (https://cloud.google.com/vpc/docs/subnets#valid-ranges): this-network, loopback, link-local
 * (the metadata server), multicast and the class E range.
 */
export const reservedRanges: readonly string[] = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
];
