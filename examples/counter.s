# Packets per TCP destination port in a hash map: the program of
# examples/counter.json, whose fixups put the map's fd into slots 11 and 21.
    r6 = r1                       # LD_ABS/LD_IND find the packet through r6
    r0 = *(u16 *)skb[12]          # ethertype
    if r0 != 0x800 goto out
    r0 = *(u8 *)skb[23]           # IPv4 protocol
    if r0 != 0x6 goto out
    r0 = *(u8 *)skb[14]           # version and header length
    r0 &= 15
    r0 <<= 2
    r7 = r0                       # IPv4 header length in bytes
    r0 = *(u16 *)skb[r7 + 16]     # TCP destination port: 14 + IHL + 2
    *(u32 *)(r10 -4) = r0         # the key, the port in host order
    r1 = 0x0 ll                   # counter.json: fixup [11, 0], the map's fd
    r2 = r10
    r2 += -4
    call 1                        # bpf_map_lookup_elem
    if r0 == 0x0 goto new
    r1 = 1
    lock *(u64 *)(r0 +0) += r1    # seen before: count in place
    goto out
new:
    *(u64 *)(r10 -16) = 1         # first packet of this port
    r1 = 0x0 ll                   # counter.json: fixup [21, 0]
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1                        # BPF_NOEXIST
    call 2                        # bpf_map_update_elem
out:
    r0 = 0
    exit
