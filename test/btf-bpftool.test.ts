/**
 * The BTF reader against bpftool's (libbpf's) reading of the same bytes:
 * `bpftool btf dump file X` lists every type with its fields, and tsbpf's
 * Btf, written in that format here, must list the same, line for line, for
 * every object of test/c and examples compiled with -g, a hand-built table
 * of every kind with kind_flag (bitfields, signed enums, a union's forward
 * declaration), and the running kernel's own BTF (/sys/kernel/btf/vmlinux,
 * 125850 types on the 6.18 host). Skips, with its reason, without bpftool.
 */

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Btf, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED } from '../src/btf/index.js';
import type { BtfType } from '../src/btf/index.js';
import { parseElf } from '../src/elf/index.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';
import { writeBtf } from './fuzz/btf-writer.js';
import { EVERY_KIND_FLAGGED } from './btf-tables.js';

const LINKAGE = ['static', 'global', 'extern'];

/** One type as `bpftool btf dump` prints it (btf_dump_plain's lines). */
function plain(btf: Btf, t: BtfType): string[] {
  const q = (n: string): string => `'${n === '' ? '(anon)' : n}'`;
  const head = `[${t.id}] ${t.kind.toUpperCase()} ${q(t.name)}`;
  switch (t.kind) {
    case 'int': {
      const enc = t.encoding === BTF_INT_SIGNED ? 'SIGNED' : t.encoding === BTF_INT_CHAR ? 'CHAR' : t.encoding === BTF_INT_BOOL ? 'BOOL' : '(none)';
      return [`${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`];
    }
    case 'ptr': case 'typedef': case 'volatile': case 'const': case 'restrict': case 'type_tag':
      return [`${head} type_id=${t.type}`];
    case 'array':
      return [`${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`];
    case 'struct': case 'union':
      return [`${head} size=${t.size} vlen=${t.members.length}`, ...t.members.map((m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`)];
    case 'enum': case 'enum64': {
      const suffix = t.kind === 'enum64' ? (t.signed ? 'LL' : 'ULL') : '';
      return [`${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`, ...t.values.map((v) => `\t${q(v.name)} val=${v.value}${suffix}`)];
    }
    case 'fwd':
      return [`${head} fwd_kind=${t.union ? 'union' : 'struct'}`];
    case 'func':
      return [`${head} type_id=${t.type} linkage=${LINKAGE[t.linkage]}`];
    case 'func_proto':
      return [`${head} ret_type_id=${t.type} vlen=${t.params.length}`, ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`)];
    case 'var':
      return [`${head} type_id=${t.type}, linkage=${LINKAGE[t.linkage]}`];
    case 'datasec':
      return [`${head} size=${t.size} vlen=${t.vars.length}`, ...t.vars.map((v) => {
        const vt = btf.type(v.type);
        return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt.kind.toUpperCase()} ${q(vt.name)})`;
      })];
    case 'float':
      return [`${head} size=${t.size}`];
    case 'decl_tag':
      return [`${head} type_id=${t.type} component_idx=${t.componentIdx}`];
  }
}

function dump(btf: Btf): string[] {
  const out: string[] = [];
  for (let id = 1; id <= btf.count; id++) out.push(...plain(btf, btf.type(id)));
  return out;
}

const probe = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
const skip = probe.error || probe.status !== 0 ? `no bpftool here (${probe.error?.message ?? probe.stderr.trim()})` : false;
if (skip) process.stderr.write(`BTF bpftool differential skipped: ${skip}\n`);

function bpftool(file: string): string[] {
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.replace(/\n$/, '').split('\n');
}

describe('every type as bpftool lists it', { skip }, () => {
  const objects = [
    ...['core-relos', 'helpers', 'maps-globals', 'modern-call', 'modern-examples', 'source-lines', 'tc-skb', 'xdp-adjust', 'xdp-parse'].map((n) => join(projectRoot(), 'test', 'c', `${n}.o`)),
    join(projectRoot(), 'examples', 'modern.o'),
  ];
  for (const f of objects) {
    test(f.slice(projectRoot().length + 1), () => {
      const btf = new Btf(parseElf(new Uint8Array(readFileSync(f))).sectionByName('.BTF')!.data());
      assert.deepEqual(dump(btf), bpftool(f));
    });
  }

  test('a hand-built table of every kind, kind_flag set where it means something', () => {
    const file = join(tempDir('tsbpf-btf-'), 'every-kind.btf');
    const bytes = writeBtf(EVERY_KIND_FLAGGED);
    writeFileSync(file, bytes);
    assert.deepEqual(dump(new Btf(bytes)), bpftool(file));
  });

  test('the running kernel\'s BTF', (t) => {
    const vmlinux = '/sys/kernel/btf/vmlinux';
    if (!existsSync(vmlinux)) {
      t.skip('no /sys/kernel/btf/vmlinux here');
      return;
    }
    const mine = dump(new Btf(new Uint8Array(readFileSync(vmlinux))));
    const theirs = bpftool(vmlinux);
    assert.equal(mine.length, theirs.length);
    const differ = mine.flatMap((l, i) => (l === theirs[i] ? [] : [`${l} | ${theirs[i]}`]));
    assert.deepEqual(differ.slice(0, 10), []);
  });
});
