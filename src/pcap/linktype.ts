/**
 * Link types (the LINKTYPE_* numbers of tcpdump.org/linktypes.html) and where
 * the network-layer header starts in a frame of each. This file owns only the
 * link-layer framing the reader exposes as `netOff`; decoding what follows is
 * summary.ts's job, and the capture file formats are reader.ts's.
 */

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  /** BSD's DLT_RAW values, which some writers stored verbatim in the file. */
  RAW_BSD_12: 12,
  RAW_BSD_14: 14,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** The EtherTypes the link-layer code knows (IPv4, IPv6, ARP, VLAN and stacked VLAN tags). */
export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  /** The pre-802.1ad stacked-VLAN tag, still emitted by some switches. */
  QINQ_OLD: 0x9100,
} as const;

/** Whether a link type carries bare IP packets (no link-layer header). */
export function isRawIp(linkType: number): boolean {
  return (
    linkType === LINKTYPE.RAW ||
    linkType === LINKTYPE.RAW_BSD_12 ||
    linkType === LINKTYPE.RAW_BSD_14 ||
    linkType === LINKTYPE.IPV4 ||
    linkType === LINKTYPE.IPV6
  );
}

function isVlanTag(ethertype: number): boolean {
  return ethertype === ETHERTYPE.VLAN || ethertype === ETHERTYPE.QINQ || ethertype === ETHERTYPE.QINQ_OLD;
}

/**
 * The link header of `data` walked to its end: the offset of the network
 * header and the ethertype (or SLL protocol) naming it. `offset` is -1 when
 * unknown: an unrecognised link type, a frame too short for its link header,
 * or an 802.3 frame whose type field is a length (an LLC header follows, not
 * a network header). For raw IP the protocol is 0: the IP version nibble says.
 */
export function linkHeader(data: Uint8Array, linkType: number): { offset: number; protocol: number } {
  const u16 = (at: number): number => (data[at]! << 8) | data[at + 1]!;
  if (linkType === LINKTYPE.ETHERNET) {
    let typeAt = 12;
    if (data.length < typeAt + 2) return { offset: -1, protocol: 0 };
    // 802.1Q and 802.1ad tags sit where the ethertype would be, each 4 bytes
    // (TPID + TCI), and may be stacked; the real ethertype follows the last.
    while (isVlanTag(u16(typeAt))) {
      typeAt += 4;
      if (data.length < typeAt + 2) return { offset: -1, protocol: 0 };
    }
    const protocol = u16(typeAt);
    // Values up to 1500 are an 802.3 length, 1536 and up an ethertype.
    if (protocol < 0x0600) return { offset: -1, protocol };
    return { offset: typeAt + 2, protocol };
  }
  if (isRawIp(linkType)) return { offset: data.length > 0 ? 0 : -1, protocol: 0 };
  if (linkType === LINKTYPE.LINUX_SLL) {
    // packet type, ARPHRD type, address length, 8 address bytes, protocol.
    if (data.length < 16) return { offset: -1, protocol: 0 };
    return { offset: 16, protocol: u16(14) };
  }
  if (linkType === LINKTYPE.LINUX_SLL2) {
    // SLL2 puts the protocol first, then interface index and the rest: 20 bytes.
    if (data.length < 20) return { offset: -1, protocol: 0 };
    return { offset: 20, protocol: u16(0) };
  }
  return { offset: -1, protocol: 0 };
}

/** The offset of the network-layer header in `data`, or -1 when unknown. */
export function networkOffset(data: Uint8Array, linkType: number): number {
  return linkHeader(data, linkType).offset;
}
