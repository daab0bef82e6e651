/**
 * The modern log's `Live regs before insn:` table (src/verifier/modern/
 * live-regs.ts): the live registers and loop numbers of a two-loop program
 * as the 6.18 host printed them, and, where bpftool and bpf(2) are here,
 * every table of the kernel differential objects against the host's own.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import { projectRoot } from './conformance-data.js';

const TWO_LOOPS = 'r0 = 0\nr1 = 0\nr1 += 1\nif r1 < 10 goto pc-2\nr2 = 0\nr2 += 1\nif r2 < 5 goto pc-2\nr0 = r1\nexit';

/** The table's lines of a log, each table after a `=== N` line (one per program). */
function tables(log: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of log.split('\n')) {
    if (line === 'Live regs before insn:') {
      inTable = true;
      out.push(`=== ${out.filter((l) => l.startsWith('===')).length + 1}`);
    } else if (inTable && /^ *(\d+ +)?\d+: [0-9.]{10} /.test(line)) {
      // map addresses differ between the kernel and the runtime
      out.push(line.replace(/\(18\) (r\d+) = 0x[0-9a-f]+$/, '(18) $1 = ADDR'));
    } else {
      inTable = false;
    }
  }
  return out;
}

test('live registers and loop numbers of two loops, as the 6.18 host prints them', () => {
  const sys = new BpfSystem({ profile: 'modern' });
  const log = (level: number): string => {
    const buf = new Uint8Array(1 << 20);
    const fd = sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encode(assemble(TWO_LOOPS)), license: 'GPL', log_level: level, log_size: buf.length, log_buf: buf }) as number;
    return sys.progOf(fd).prog.log;
  };
  assert.deepEqual(log(2).split('\n').slice(0, 11), [
    'func#0 @0',
    'Live regs before insn:',
    '      0: .......... (b7) r0 = 0',
    '      1: .......... (b7) r1 = 0',
    '  2   2: .1........ (07) r1 += 1',
    '  2   3: .1........ (a5) if r1 < 0xa goto pc-2',
    '      4: .1........ (b7) r2 = 0',
    '  1   5: .12....... (07) r2 += 1',
    '  1   6: .12....... (a5) if r2 < 0x5 goto pc-2',
    '      7: .1........ (bf) r0 = r1',
    '      8: 0......... (95) exit',
  ]);
  // level 1 has no table
  assert.equal(log(1).includes('Live regs'), false);
});

test('the tables of every kernel differential object equal the host kernel\'s', (t) => {
  const bpftool = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  const why = bpftool.error ? 'bpftool is not installed (apt-get install -y bpftool)'
    : !existsSync('/sys/fs/bpf') ? 'no /sys/fs/bpf to pin into'
      : process.getuid?.() !== 0 ? 'loading programs needs root' : undefined;
  if (why) {
    process.stderr.write(`live-regs kernel comparison skipped: ${why}\n`);
    t.skip(why);
    return;
  }
  const dir = join(projectRoot(), 'test', 'c');
  const objects = readdirSync(dir).filter((f) => /^(xdp-parse|tc-skb|xdp-adjust|maps-globals|helpers|core)\.o$/.test(f)).sort();
  assert.equal(objects.length, 6);
  for (const obj of objects) {
    const pin = `/sys/fs/bpf/tsbpf-live-regs-${process.pid}`;
    mkdirSync(pin, { recursive: true });
    const k = spawnSync('bpftool', ['-d', 'prog', 'loadall', join(dir, obj), pin], { encoding: 'utf8', maxBuffer: 1 << 28 });
    rmSync(pin, { recursive: true, force: true });
    const kernel = tables(k.stdout + k.stderr);
    if (kernel.length === 0) {
      process.stderr.write(`live-regs kernel comparison skipped: bpftool could not load ${obj} (${(k.stderr.split('\n').find((l) => l.startsWith('Error')) ?? 'no log').trim()})\n`);
      t.skip('bpftool could not load the objects');
      return;
    }
    const ours: string[] = [];
    const cli = join(projectRoot(), 'bin', 'tsbpf.js');
    const inspect = JSON.parse(spawnSync(process.execPath, [cli, 'inspect', join(dir, obj), '--json'], { encoding: 'utf8' }).stdout) as { programs: { name: string; section: string }[] };
    for (const p of inspect.programs) {
      const v = spawnSync(process.execPath, [cli, 'verify', join(dir, obj), '--section', `${p.section}/${p.name}`, '--profile', 'modern', '--log-level', '2'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      ours.push(...tables(v.stdout).map((l) => (l.startsWith('===') ? `=== ${ours.filter((x) => x.startsWith('===')).length + 1}` : l)));
    }
    assert.deepEqual(ours, kernel, obj);
  }
});
