/**
 * CO-RE relocations (src/loader/core.ts): what they patch in clang's
 * objects, how an unsatisfiable one poisons its instruction, the checks on
 * an instruction that does not hold the local value, and the context BTF
 * rebuilt byte for byte from its C. The kernel differential of the same
 * objects is in progs-kernel.test.ts (test/c/core.c).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem } from '../src/api/bpf.js';
import { Collection } from '../src/api/collection.js';
import { BpfError } from '../src/errors.js';
import { coreTargetBtf, essentialName, CORE_POISON } from '../src/loader/core.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { projectRoot } from './conformance-data.js';
import { tempDir } from './tmp.js';

const obj = (name: string): Uint8Array => new Uint8Array(readFileSync(join(projectRoot(), 'test', 'c', `${name}.o`)));
/** [code, dst, src, off, imm] of each instruction */
const insns = (spec: ReturnType<typeof loadCollectionSpec>, prog: string): number[][] => spec.programs[prog]!.insns.map((s) => [s.code, s.dst, s.src, s.off, s.imm]);

test('essential names drop the last ___flavor suffix only where libbpf does', () => {
  assert.equal(essentialName('__sk_buff___mine'), '__sk_buff');
  assert.equal(essentialName('xdp_md___a___b'), 'xdp_md___a');
  assert.equal(essentialName('task_struct'), 'task_struct');
  assert.equal(essentialName('a____b'), 'a____b');
  assert.equal(essentialName('x___'), 'x___');
  assert.equal(essentialName('___y'), '___y');
});

test('the target BTF has the uapi context structs with the kernel\'s sizes', () => {
  const btf = coreTargetBtf();
  const size = (name: string): number => btf.sizeOf(btf.find(name, 'struct')!.id);
  assert.deepEqual(
    ['__sk_buff', 'xdp_md', 'bpf_sock', 'bpf_flow_keys', 'ethhdr', 'iphdr', 'ipv6hdr', 'tcphdr', 'udphdr', 'icmp6hdr'].map(size),
    [192, 24, 80, 56, 14, 20, 40, 20, 8, 8],
  );
});

test('field offsets, sizes and existence in test/c/core.o are resolved against the context structs', () => {
  const spec = loadCollectionSpec(obj('core'));
  const tc = insns(spec, 'tc_core');
  // local layout: mark 0, cb 4..24, protocol 24, len 28, not_in_kernel 32, priority 36
  assert.deepEqual(tc.slice(0, 12), [
    [0x61, 2, 1, 0, 0], // len
    [0x61, 3, 1, 16, 0], // protocol
    [0x67, 3, 0, 0, 8],
    [0x0f, 3, 2, 0, 0],
    [0x63, 1, 3, 56, 0], // cb[2]
    [0xb7, 2, 0, 0, 7],
    [0x63, 1, 2, 8, 0], // mark
    [0x61, 2, 1, 8, 0],
    [0x61, 3, 1, 56, 0],
    [0x0f, 3, 2, 0, 0],
    [0x63, 1, 3, 32, 0], // priority
    [0x61, 1, 1, 32, 0],
  ]);
  assert.deepEqual(tc[12], [0xb7, 2, 0, 0, 0]); // bpf_core_field_exists(not_in_kernel)
  assert.deepEqual(tc[15], [0xb7, 2, 0, 0, 1]); // bpf_core_field_exists(cb)
  assert.deepEqual(tc[18], [0xb7, 0, 0, 0, 20]); // bpf_core_field_size(cb)
  assert.deepEqual(tc[21], [0xb7, 1, 0, 0, 192]); // bpf_core_type_size(struct __sk_buff)
  assert.deepEqual(tc[24], [0xb7, 1, 0, 0, 0]); // bpf_core_type_exists(struct tsbpf_no_such_struct)
  const xdp = insns(spec, 'xdp_core');
  assert.deepEqual(xdp.slice(1, 3), [[0x61, 3, 1, 4, 0], [0x61, 2, 1, 0, 0]]); // data_end, data
  assert.deepEqual(xdp[7], [0x61, 1, 1, 12, 0]); // ingress_ifindex
  assert.deepEqual([xdp[13]![4], xdp[16]![4]], [2, 3]); // bpf_core_enum_value: XDP_PASS, XDP_TX
});

test('a relocation the target cannot satisfy poisons its instruction: dead when guarded, refused when reached', () => {
  const spec = loadCollectionSpec(obj('core-poison'));
  assert.deepEqual(insns(spec, 'guarded')[3], [0x85, 0, 0, 0, CORE_POISON]);
  assert.deepEqual(insns(spec, 'unguarded')[0], [0x85, 0, 0, 0, CORE_POISON]);
  const sys = new BpfSystem({ profile: 'modern' });
  const c = new Collection(sys, { ...spec, programs: { guarded: spec.programs['guarded']! } });
  assert.equal(c.programs['guarded']!.testRun(new Uint8Array(14)).retval, 2n);
  c.close();
  assert.throws(
    () => new Collection(sys, { ...spec, programs: { unguarded: spec.programs['unguarded']! } }),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL' && /invalid func unknown#195896080/.test(e.message),
  );
});

test('an instruction that does not hold the local value is refused, naming the relocation', () => {
  const bytes = obj('core');
  // the tc section's first instruction, r2 = *(u32 *)(r1 + 28): make its offset 4
  const spec = loadCollectionSpec(bytes);
  assert.equal(spec.programs['tc_core']!.insns[0]!.off, 0);
  const text = Buffer.from(bytes);
  const at = text.indexOf(Buffer.from([0x61, 0x12, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x13, 0x18, 0x00]));
  assert.ok(at > 0);
  text[at + 2] = 4;
  assert.throws(() => loadCollectionSpec(new Uint8Array(text)), {
    name: 'BpfError',
    message: 'section tc: CO-RE relocation at insn 0 (field_byte_offset, access 0:3): instruction 0 holds 4, not the local value 28',
  });
});

test('src/loader/ctx-btf.ts is what scripts/build-ctx-btf.mjs makes of scripts/ctx-btf.c', (t) => {
  const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' });
  if (clang.error || clang.status !== 0 || !/Debian clang version 14\./.test(clang.stdout)) {
    const why = clang.error ? 'clang is not installed' : 'this is not Debian\'s clang 14, which made the committed file';
    process.stderr.write(`ctx-btf rebuild check skipped: ${why}\n`);
    t.skip(why);
    return;
  }
  const out = join(tempDir('tsbpf-ctx-btf-'), 'ctx-btf.ts');
  const r = spawnSync(process.execPath, [join(projectRoot(), 'scripts', 'build-ctx-btf.mjs'), out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), readFileSync(join(projectRoot(), 'src', 'loader', 'ctx-btf.ts'), 'utf8'));
});
