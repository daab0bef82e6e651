/** Classic BPF: read (tcpdump -dd/-ddd, raw bytes), check as 3.19 does, convert to eBPF, disassemble as tcpdump -d. */
export * from './parse.js';
export * from './opcodes.js';
export * from './check.js';
export * from './convert.js';
export * from './disasm.js';
