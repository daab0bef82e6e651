/**
 * `tsbpf conformance-plugin`: the bpf_conformance plugin protocol
 * (../shared/conformance/README.md, section 3). argv: [MEMORY] [options];
 * stdin: the program as base16; stdout: r0 in hex; exit 0. Any failure exits
 * 1 with one line on stderr. Options: --interpret (the default, the checked
 * interpreter) and --jit (the WebAssembly JIT, whose memory accesses are
 * bounded by WebAssembly only); anything else is a usage error (exit 2) and
 * --help prints the plugin's help, both through main.ts's common parser.
 */

import { BpfError } from '../errors.js';
import { decodeSlots, slotsToInstructions, toSlots } from '../isa/instruction.js';
import { runConformance, runConformanceJit } from '../api/conformance.js';
import type { CliIo } from './io.js';

function base16(text: string, what: string): Uint8Array {
  const tokens = text.split(/\s+/).filter((t) => t !== '');
  const out = new Uint8Array(tokens.length);
  tokens.forEach((t, i) => {
    if (!/^[0-9a-fA-F]{1,2}$/.test(t)) throw new BpfError('EINVAL', `${what}: '${t}' is not a hex byte`);
    out[i] = parseInt(t, 16);
  });
  return out;
}

/** The runner writes each byte as two hex digits and two spaces; accept plain hex too. */
function programBytes(text: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]+$/.test(t)) {
    if (t.length % 2 !== 0) throw new BpfError('EINVAL', 'program: odd number of hex digits');
    return Uint8Array.from(t.match(/../g) ?? [], (b) => parseInt(b, 16));
  }
  return base16(t, 'program');
}

/**
 * The plugin run: `memoryArg` is the base16 buffer (argv's one positional,
 * parsed by main.ts with the plugin's two options), the program on stdin.
 */
export function conformancePlugin(memoryArg: string | undefined, jit: boolean, io: CliIo): number {
  try {
    const memory = memoryArg === undefined ? new Uint8Array(0) : base16(memoryArg, 'memory');
    const bytes = programBytes(new TextDecoder().decode(io.stdin.readAll()));
    const slots = toSlots(slotsToInstructions(decodeSlots(bytes)));
    if (slots.length === 0) throw new BpfError('EINVAL', 'empty program');
    const r0 = jit ? runConformanceJit(slots, memory) : runConformance(slots, memory);
    io.stdout.write(`${r0.toString(16)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof BpfError) {
      io.stderr.write(`${e.message} (${e.code})\n`);
      return 1;
    }
    throw e;
  }
}
