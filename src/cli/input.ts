/**
 * Program inputs for the CLI: the library's programInput (loader/input.ts)
 * under the names the commands use, and the parsing of `--data` hex, which
 * is the CLI's own.
 */

import { BpfError } from '../errors.js';
import { programInput } from '../loader/input.js';
import type { ProgramInput, ProgramInputOptions } from '../loader/input.js';

export { detectFormat, parseSpec } from '../loader/input.js';
export type { InputFormat, InputMapSpec as MapSpec, ProgramInput, ProgramInputOptions as ParseOptions } from '../loader/input.js';

/** A program file's bytes as slots, type, license, maps and fixups (loader/input.ts's programInput). */
export function parseProgram(bytes: Uint8Array, options: ProgramInputOptions = {}): ProgramInput {
  return programInput(bytes, options);
}

/** Parse `--data` hex: pairs of hex digits, spaces and `0x` prefixes allowed. */
export function parseHexData(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new BpfError('EINVAL', `--data is not hexadecimal: '${text}'`);
  if (clean.length % 2 !== 0) throw new BpfError('EINVAL', '--data has an odd number of hex digits');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
