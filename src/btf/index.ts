/** BTF (`tsbpf/btf`): the `.BTF` type reader and the `.BTF.ext` records (functions, source lines, CO-RE relocations). */
export * from './btf.js';
export * from './ext.js';
