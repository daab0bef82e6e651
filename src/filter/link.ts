/**
 * The link types a filter compiles for, by pcap LINKTYPE number and by name:
 * where the network header starts, where the Ethernet type is (if the link
 * has one), and how the link says which network protocol follows (an
 * Ethernet type; the IP version nibble on raw IP; an address family on
 * BSD loopback, in the capture's byte order for DLT_NULL).
 */

import { BpfError } from '../errors.js';

export interface LinkLayer {
  /** pcap LINKTYPE_ number */
  linktype: number;
  name: string;
  kind: 'ether' | 'sll' | 'sll2' | 'raw' | 'ipv4' | 'ipv6' | 'null';
  /** offset of the 16-bit Ethernet type (ether, sll, sll2) */
  typeOffset: number | null;
  netOffset: number;
  /** null: the family word is in the capturing host's order (little-endian assumed) */
  littleEndian: boolean;
}

const LINKS: readonly LinkLayer[] = [
  { linktype: 1, name: 'ethernet', kind: 'ether', typeOffset: 12, netOffset: 14, littleEndian: false },
  { linktype: 101, name: 'raw', kind: 'raw', typeOffset: null, netOffset: 0, littleEndian: false },
  { linktype: 228, name: 'ipv4', kind: 'ipv4', typeOffset: null, netOffset: 0, littleEndian: false },
  { linktype: 229, name: 'ipv6', kind: 'ipv6', typeOffset: null, netOffset: 0, littleEndian: false },
  { linktype: 113, name: 'linux_sll', kind: 'sll', typeOffset: 14, netOffset: 16, littleEndian: false },
  { linktype: 276, name: 'linux_sll2', kind: 'sll2', typeOffset: 0, netOffset: 20, littleEndian: false },
  { linktype: 0, name: 'null', kind: 'null', typeOffset: null, netOffset: 4, littleEndian: true },
  { linktype: 108, name: 'loop', kind: 'null', typeOffset: null, netOffset: 4, littleEndian: false },
];

const ALIASES: Record<string, string> = { en10mb: 'ethernet', ether: 'ethernet', eth: 'ethernet', sll: 'linux_sll', sll2: 'linux_sll2', loopback: 'loop' };

/** The link types compileFilter accepts, by name. */
export const FILTER_LINKTYPES: readonly string[] = LINKS.map((l) => l.name);

/** A link type by LINKTYPE number or name (case-insensitive; `en10mb`, `sll`, ... accepted). */
export function linkLayer(linktype: number | string): LinkLayer {
  if (typeof linktype === 'number') {
    const l = LINKS.find((x) => x.linktype === linktype);
    if (l === undefined) throw new BpfError('EINVAL', `link type ${linktype} is not supported by the filter compiler (supported: ${LINKS.map((x) => `${x.linktype} ${x.name}`).join(', ')})`);
    return l;
  }
  if (typeof linktype !== 'string') throw new BpfError('EINVAL', `a link type must be a number or a name, got ${linktype === null ? 'null' : typeof linktype}`);
  const n = linktype.toLowerCase().replace(/^linktype_/, '');
  const l = LINKS.find((x) => x.name === (ALIASES[n] ?? n));
  if (l === undefined) throw new BpfError('EINVAL', `unknown link type '${linktype}' (supported: ${FILTER_LINKTYPES.join(', ')})`);
  return l;
}
