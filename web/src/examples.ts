/**
 * The playground's built-in examples: a socket filter, a flow counter with a
 * hash map, a rejected program and its fix, an XDP parser (modern profile),
 * a tcpdump expression and classic BPF text. Each is a whole playground
 * state: program text, input kind, profile, program type and a packet.
 *
 * Assembly examples declare their maps with the playground's `#map` lines
 * (a comment to the assembler): `#map NAME TYPE key=K value=V entries=N`,
 * and name them in `map[NAME]`, which becomes `map[fd:N]` at load.
 */

/** One example: what the page loads when it is picked. */
export interface Example {
  id: string;
  title: string;
  kind: 'asm' | 'classic' | 'expr';
  profile: '3.19' | 'modern';
  type: string;
  text: string;
  /** the packet, hex */
  data: string;
}

import { buildPacket, toHex } from './packet.js';

/** Ethernet + IPv4 + TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80, no payload (54 bytes). */
export const SYN_PACKET = toHex(buildPacket({ proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, flags: 2, payload: 0 }));

export const EXAMPLES: readonly Example[] = [
  {
    id: 'syn-filter',
    title: 'Socket filter: keep TCP SYNs',
    kind: 'asm',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: `# Keep IPv4 TCP connection attempts (SYN set, ACK clear), drop the rest.
# LD_ABS/LD_IND read the packet in network byte order from offset 0,
# the first byte of the Ethernet header.
    r6 = r1                       # LD_ABS/LD_IND find the packet through r6
    r0 = *(u16 *)skb[12]          # ethertype
    if r0 != 0x800 goto drop
    r0 = *(u8 *)skb[23]           # IPv4 protocol
    if r0 != 0x6 goto drop
    r0 = *(u16 *)skb[20]          # flags and fragment offset
    r0 &= 8191
    if r0 != 0x0 goto drop        # only the first fragment has the TCP header
    r0 = *(u8 *)skb[14]           # version and header length
    r0 &= 15
    r0 <<= 2
    r7 = r0                       # IPv4 header length in bytes
    r0 = *(u8 *)skb[r7 + 27]      # TCP flags: 14 (Ethernet) + IHL + 13
    r0 &= 18                      # SYN | ACK
    if r0 != 0x2 goto drop
    r0 = 262144                   # keep the whole packet
    exit
drop:
    r0 = 0
    exit
`,
  },
  {
    id: 'flow-counter',
    title: 'Flow counter: packets per TCP port in a hash map',
    kind: 'asm',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: `# Packets per TCP destination port, counted in a hash map.
#map ports hash key=4 value=8 entries=64
    r6 = r1
    r0 = *(u16 *)skb[12]          # ethertype
    if r0 != 0x800 goto out
    r0 = *(u8 *)skb[23]           # IPv4 protocol
    if r0 != 0x6 goto out
    r0 = *(u8 *)skb[14]
    r0 &= 15
    r0 <<= 2
    r7 = r0                       # IPv4 header length
    r0 = *(u16 *)skb[r7 + 16]     # TCP destination port
    *(u32 *)(r10 -4) = r0         # the key
    r1 = map[ports]
    r2 = r10
    r2 += -4
    call 1                        # bpf_map_lookup_elem
    if r0 == 0x0 goto new
    r1 = 1
    lock *(u64 *)(r0 +0) += r1    # seen before: count in place
    goto out
new:
    *(u64 *)(r10 -16) = 1         # first packet of this port
    r1 = map[ports]
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1                        # BPF_NOEXIST
    call 2                        # bpf_map_update_elem
out:
    r0 = 0
    exit
`,
  },
  {
    id: 'rejected',
    title: 'Rejected: a map value used without the NULL check',
    kind: 'asm',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: `# bpf_map_lookup_elem returns NULL when the key is absent: the verifier
# refuses the load below. The next example is the fix.
#map counts array key=4 value=8 entries=1
    *(u32 *)(r10 -4) = 0
    r1 = map[counts]
    r2 = r10
    r2 += -4
    call 1                        # bpf_map_lookup_elem
    r1 = 1
    lock *(u64 *)(r0 +0) += r1    # r0 may be NULL here
    r0 = 0
    exit
`,
  },
  {
    id: 'fixed',
    title: 'Fixed: the same program with the NULL check',
    kind: 'asm',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: `# The fix: compare r0 with 0 before using it.
#map counts array key=4 value=8 entries=1
    *(u32 *)(r10 -4) = 0
    r1 = map[counts]
    r2 = r10
    r2 += -4
    call 1                        # bpf_map_lookup_elem
    if r0 == 0x0 goto out         # the check the verifier wants
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
out:
    r0 = 0
    exit
`,
  },
  {
    id: 'xdp-parser',
    title: 'XDP parser: drop UDP to port 53, count by protocol',
    kind: 'asm',
    profile: 'modern',
    type: 'xdp',
    data: SYN_PACKET,
    text: `# XDP (modern profile): parse Ethernet, IPv4 (with options) and UDP through
# data/data_end, count packets per IP protocol, drop UDP to port 53.
#map protos array key=4 value=8 entries=256
    r6 = *(u32 *)(r1 +0)          # data
    r7 = *(u32 *)(r1 +4)          # data_end
    r2 = r6
    r2 += 34                      # Ethernet (14) + IPv4 without options (20)
    if r2 > r7 goto pass          # the bounds check packet access needs
    r3 = *(u16 *)(r6 +12)         # ethertype, network order
    if r3 != 0x8 goto pass        # 0x0800 read little-endian
    r3 = *(u8 *)(r6 +23)          # IPv4 protocol
    *(u32 *)(r10 -4) = r3
    r1 = map[protos]
    r2 = r10
    r2 += -4
    call 1                        # bpf_map_lookup_elem
    if r0 == 0x0 goto pass
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    r3 = *(u8 *)(r6 +23)
    if r3 != 17 goto pass         # UDP?
    r4 = *(u8 *)(r6 +14)
    r4 &= 15
    r4 <<= 2                      # IPv4 header length, options included: 0..60
    r5 = r6
    r5 += r4                      # a variable offset: the verifier tracks its range
    r5 += 14                      # the UDP header
    r2 = r5
    r2 += 8
    if r2 > r7 goto pass          # the UDP header is inside the packet
    r3 = *(u16 *)(r5 +2)          # destination port, network order
    if r3 != 0x3500 goto pass     # 53 read little-endian
    r0 = 1                        # XDP_DROP
    exit
pass:
    r0 = 2                        # XDP_PASS
    exit
`,
  },
  {
    id: 'expression',
    title: 'tcpdump expression: tcp dst port 80',
    kind: 'expr',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: 'tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0\n',
  },
  {
    id: 'classic',
    title: 'Classic BPF: tcpdump -dd output',
    kind: 'classic',
    profile: '3.19',
    type: 'socket_filter',
    data: SYN_PACKET,
    text: `{ 0x28, 0, 0, 0x0000000c },
{ 0x15, 0, 8, 0x00000800 },
{ 0x30, 0, 0, 0x00000017 },
{ 0x15, 0, 6, 0x00000006 },
{ 0x28, 0, 0, 0x00000014 },
{ 0x45, 4, 0, 0x00001fff },
{ 0xb1, 0, 0, 0x0000000e },
{ 0x48, 0, 0, 0x00000010 },
{ 0x15, 0, 1, 0x00000050 },
{ 0x6, 0, 0, 0x00040000 },
{ 0x6, 0, 0, 0x00000000 },
`,
  },
];
