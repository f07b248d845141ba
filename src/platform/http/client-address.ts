import { isIPv4, isIPv6 } from 'node:net'

/**
 * The client an address stands for, as per-address limits count it: an IPv4 address as it
 * is, an IPv6 address as its /64 (one subscriber's network: a client holds all 2^64 of its
 * addresses, and counted one by one, every per-address limit was none), an IPv4 address
 * written as IPv6 (::ffff:203.0.113.7) as the IPv4 address.
 */
export function clientOf(address: string): string {
  if (isIPv4(address) || !isIPv6(address)) return address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address, "::" filled in, without leading zeros. */
function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0]
  const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') : [withoutZone, null]
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  // An embedded IPv4 tail (::1.2.3.4) counts two groups; only the first four matter here.
  const headGroups = groups(head)
  const tailGroups = tail === null ? [] : groups(tail).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]))
  const missing = tail === null ? 0 : 8 - headGroups.length - tailGroups.length
  return [...headGroups, ...Array(missing).fill('0'), ...tailGroups].map((g) => (parseInt(g, 16) || 0).toString(16))
}
