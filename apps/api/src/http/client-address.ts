/**
 * The key per-address limits count a client under: an IPv4 address as it is; an IPv6 address
 * by its /64, one subscriber's network, whose 2^64 addresses a client can rotate through for
 * free (an IPv4-mapped address counts as its IPv4 address).
 */
import { isIPv6 } from "node:net";

export function addressKey(ip: string): string {
  const address = ip.split("%")[0]!; // a zone id (fe80::1%eth0) names an interface, not a host
  if (!isIPv6(address)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = address.split("::");
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":").flatMap((g) => (g.includes(".") ? ["0", "0"] : [g])));
  const before = groupsOf(head);
  const after = tail === undefined ? [] : groupsOf(tail);
  const groups = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill("0"), ...after];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
