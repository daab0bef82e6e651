# A program as uBPF and bpf_conformance run them: r1 = a buffer, r2 = its
# length. Adds the buffer's first two little-endian u32 words and the length.
# tsbpf run examples/mem-sum.s --mem 0100000002000000   (retval 11)
    r0 = *(u32 *)(r1 +0)
    r3 = *(u32 *)(r1 +4)
    r0 += r3
    r0 += r2
    exit
