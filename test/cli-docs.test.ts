/**
 * docs/cli.md and the command table (src/cli/commands.ts) in step: every
 * command has its section in the reference, and every option of a command
 * is described in it, so `tsbpf CMD --help` and the page never disagree on
 * what exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../src/cli/commands.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/cli.md', import.meta.url)), 'utf8');

/** The text of `### \`name\`` (or a heading naming it among others) up to the next section. */
function section(name: string): string | undefined {
  const parts = doc.split(/^### /m).slice(1);
  return parts.find((p) => p.split('\n')[0]!.includes(`\`${name}\``));
}

for (const spec of COMMANDS) {
  test(`docs/cli.md describes ${spec.name} and each of its options`, () => {
    const text = section(spec.name);
    assert.ok(text !== undefined, `no section for ${spec.name}`);
    for (const u of spec.usage) assert.ok(doc.includes(`tsbpf ${u}`), `the synopsis 'tsbpf ${u}'`);
    for (const o of spec.options) assert.ok(text!.includes(`--${o.name}`), `--${o.name} of ${spec.name}`);
  });
}
