/** The pure instruction set: constants, the instruction model, builders, text. No runtime knowledge. */
export * from './opcodes.js';
export * from './instruction.js';
export * from './builders.js';
export * from './disasm.js';
export * from './asm.js';
