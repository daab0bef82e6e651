# Keep IPv4 TCP connection attempts (SYN set, ACK clear), drop everything else.
# A socket filter: LD_ABS/LD_IND read the packet in network byte order,
# offset 0 being the first byte of the Ethernet header. Written in the kernel
# verifier-log syntax that `tsbpf disasm` prints.
    r6 = r1                       # LD_ABS/LD_IND find the packet through the context in r6
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
    r7 = r0                       # r7 = IPv4 header length in bytes
    r0 = *(u8 *)skb[r7 + 27]      # TCP flags: 14 (Ethernet) + IHL + 13
    r0 &= 18                      # SYN | ACK
    if r0 != 0x2 goto drop
    r0 = 262144                   # keep the whole packet, as tcpdump's filters do
    exit
drop:
    r0 = 0
    exit
