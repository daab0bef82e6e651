/** The ELF64 object reader: generic ELF structure only, no eBPF semantics. */
export * from './reader.js';
