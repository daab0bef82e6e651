/**
 * Reader for the bpf_conformance `.data` vector format (../shared/conformance/README.md,
 * section 1), shared by the tests and the benchmark.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Vector {
  name: string;
  asm: string;
  raw?: bigint[];
  mem: Uint8Array;
  result?: bigint;
  error?: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The project root, whether running from src or from dist. */
export function projectRoot(): string {
  let d = here;
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}

export function conformanceDir(): string {
  return resolve(projectRoot(), '..', 'shared', 'conformance');
}

export function parseVector(name: string, text: string): Vector {
  const sections: Record<string, string[]> = {};
  let current: string | undefined;
  for (let line of text.split('\n')) {
    line = line.replace(/\r$/, '');
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    if (line.includes('--')) {
      const kinds = ['asm', 'result', 'mem', 'raw', 'no register offset', ' c', 'error'];
      current = kinds.find((k) => line.includes(k)) ?? 'unknown';
      sections[current] ??= [];
      continue;
    }
    if (line.trim() === '' || current === undefined) continue;
    sections[current]!.push(line);
  }
  const last = (k: string): string | undefined => sections[k]?.filter((l) => l.trim() !== '').at(-1)?.trim();
  const resultText = last('result');
  const memHex = (sections['mem'] ?? []).join(' ').split(/\s+/).filter((t) => t !== '');
  const v: Vector = {
    name,
    asm: (sections['asm'] ?? []).join('\n'),
    mem: Uint8Array.from(memHex.map((b) => parseInt(b, 16))),
  };
  if (resultText !== undefined) v.result = BigInt.asUintN(64, BigInt(resultText.toLowerCase().includes('0x') ? resultText : resultText));
  const err = last('error');
  if (err !== undefined) v.error = err;
  if (sections['raw']) {
    v.raw = sections['raw'].join(' ').split(/\s+/).filter((t) => t !== '').map((t) => BigInt(t));
  }
  return v;
}

export function loadVectors(): Vector[] {
  const dir = conformanceDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort()
    .map((f) => parseVector(f.replace(/\.data$/, ''), readFileSync(join(dir, f), 'utf8')));
}

export function loadAssembled(): Record<string, { prog: string; mem: string; result: string }> {
  return JSON.parse(readFileSync(join(conformanceDir(), 'assembled.json'), 'utf8')) as Record<string, { prog: string; mem: string; result: string }>;
}
