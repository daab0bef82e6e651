/**
 * The library as users import it (src/index.ts and src/node.ts, the
 * package's `tsbpf` and `tsbpf/node`): a rejected load is a VerifierError
 * with the log and the slot at fault whatever the log level asked for; a
 * Collection's programs are Programs that run packets, batches and
 * captures; verifyProgram gives a verdict as data; the object file and
 * capture readers of tsbpf/node. test/package.test.ts checks the same names
 * from the packed package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BpfError, BpfSystem, Collection, Program, VerifierError, encodeSlots, parseCapture, readCapture, verifyProgram, writePcap, LINKTYPE,
} from '../src/index.js';
import type { CollectionSpec, Slot } from '../src/index.js';
import { loadCollectionSpecFile, readCaptureFile } from '../src/node.js';
import { projectRoot } from './conformance-data.js';

const protoCount = join(projectRoot(), 'examples', 'proto-count.o');

/** What `f` throws, which must be a VerifierError. */
function verifierError(f: () => unknown): VerifierError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof VerifierError, `expected a VerifierError, got ${String(e)}`);
    assert.ok(e instanceof BpfError);
    return e;
  }
  assert.fail('no error');
}

function ipv4(proto: number, len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45], 0);
  f[23] = proto;
  return f;
}

const EXIT: Slot = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };

test('a rejected Program.load is a VerifierError with the log and the slot, even at log level 0', () => {
  const sys = new BpfSystem();
  const insns = 'r1 = 1\nr1 = 2\nexit';
  const expected = '0: (b7) r1 = 1\n1: (b7) r1 = 2\n2: (95) exit\nR0 !read_ok\n';
  for (const logLevel of [0, 1]) {
    const e = verifierError(() => Program.load(sys, { insns, logLevel }));
    assert.equal(e.name, 'VerifierError');
    assert.equal(e.code, 'EACCES');
    assert.equal(e.errno, -13);
    assert.equal(e.command, 'BPF_PROG_LOAD');
    assert.equal(e.message, 'insn 2: R0 !read_ok');
    assert.equal(e.log, expected, `log level ${logLevel}`);
    assert.equal(e.insn, 2);
    assert.equal(e.truncated, false);
  }
  // the load made again for its log leaves nothing behind
  assert.deepEqual(sys.fds(), []);
  // bpf() itself is the kernel's: no log unless one is asked for
  const raw = verifierError(() => sys.bpf('BPF_PROG_LOAD', { prog_type: 1, insns: encodeSlots([EXIT]), license: 'GPL' }));
  assert.equal(raw.log, '');
  assert.equal(raw.insn, 0);
});

test('ld_imm64 rejections name their slot; a log too small for the user\'s buffer is ENOSPC and truncated', () => {
  const sys = new BpfSystem();
  const mov0: Slot = { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 };
  const mapLoad: Slot[] = [{ code: 0x18, dst: 1, src: 1, off: 0, imm: 99 }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 }];
  const e = verifierError(() => Program.load(sys, { insns: encodeSlots([mov0, ...mapLoad, EXIT]) }));
  assert.equal(e.code, 'EBADF');
  assert.equal(e.message, 'fd 99 is not pointing to valid bpf_map');
  assert.equal(e.log, 'fd 99 is not pointing to valid bpf_map\n');
  assert.equal(e.insn, 1);
  const cut = verifierError(() => Program.load(sys, { insns: 'r1 = 1\n'.repeat(10) + 'exit', logLevel: 1, logSize: 128 }));
  assert.equal(cut.code, 'ENOSPC');
  assert.equal(cut.message, 'insn 10: R0 !read_ok');
  assert.equal(cut.truncated, true);
  const whole = Array.from({ length: 10 }, (_, i) => `${i}: (b7) r1 = 1\n`).join('') + '10: (95) exit\nR0 !read_ok\n';
  // the buffer's 128 bytes hold 127 of the log and the NUL
  assert.equal(cut.log, whole.slice(0, 127));
  assert.deepEqual(sys.fds(), []);
});

test('a rejected program in a Collection: a VerifierError naming it, with its log and slot; nothing is left open', () => {
  const sys = new BpfSystem();
  const spec: CollectionSpec = {
    maps: { m: { name: 'm', type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 } },
    programs: {
      good: { name: 'good', section: 'socket1', type: 'socket_filter', insns: [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, EXIT], mapRefs: [] },
      bad: { name: 'bad', section: 'socket2', type: 'socket_filter', insns: [EXIT], mapRefs: [] },
    },
    license: 'GPL',
    version: 0,
    variables: {},
  };
  const e = verifierError(() => new Collection(sys, spec));
  assert.equal(e.code, 'EACCES');
  assert.equal(e.message, 'program bad (section socket2): insn 0: R0 !read_ok');
  assert.equal(e.log, '0: (95) exit\nR0 !read_ok\n');
  assert.equal(e.insn, 0);
  assert.deepEqual(sys.fds(), []);
  // the spec is data: change it and load again
  spec.programs['bad']!.insns = [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 7 }, EXIT];
  const col = new Collection(sys, spec, { logLevel: 1 });
  assert.ok(col.programs['bad'] instanceof Program);
  assert.equal(col.programs['bad'].run(new Uint8Array(14)), 7n);
  assert.equal(col.programs['bad'].log, '0: (b7) r0 = 7\n1: (95) exit\n');
  col.close();
  assert.deepEqual(sys.fds(), []);
});

test('a Collection\'s programs run packets, batches and captures (web stream and file); its maps count them', async () => {
  const sys = new BpfSystem();
  const col = new Collection(sys, loadCollectionSpecFile(protoCount));
  const count = col.programs['count']!;
  const counted = (proto: number): [bigint, bigint] => {
    const v = col.maps['proto_count']!.raw.lookup(Uint8Array.of(proto, 0, 0, 0))!;
    const dv = new DataView(v.buffer, v.byteOffset);
    return [dv.getBigUint64(0, true), dv.getBigUint64(8, true)];
  };
  assert.equal(count.run(ipv4(6, 60)), 0n);
  assert.deepEqual([...count.runBatch([{ data: ipv4(6, 100), netOff: 14 }, { data: ipv4(17, 80), netOff: 14 }])], [0, 0]);
  assert.deepEqual(counted(6), [2n, 160n]);
  const capture = writePcap([ipv4(1, 98), ipv4(17, 70), ipv4(1, 64)].map((data, i) => ({ data, tsNs: BigInt(i) })), LINKTYPE.ETHERNET);
  // a web ReadableStream delivering the capture 10 bytes at a time
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= capture.length) return c.close();
      c.enqueue(capture.slice(at, at + 10));
      at += 10;
    },
  });
  const seen: [number, number][] = [];
  for await (const { packet, verdict } of count.runCapture(stream)) seen.push([packet.data.length, verdict]);
  assert.deepEqual(seen, [[98, 0], [70, 0], [64, 0]]);
  assert.deepEqual(counted(1), [2n, 162n]);
  assert.deepEqual(counted(17), [2n, 150n]);
  // a reader given as it is: readCapture's (bytes), readCaptureFile's (a path)
  let n = 0;
  for await (const v of count.runCapture(readCapture(capture))) n += v.packet.data.length;
  assert.equal(n, 232);
  // and parseCapture's, synchronous
  const sync: number[] = [];
  for await (const v of count.runCapture(parseCapture(capture))) sync.push(v.packet.data.length);
  assert.deepEqual(sync, [98, 70, 64]);
  const lengths: number[] = [];
  for await (const v of count.runCapture(readCaptureFile(join(projectRoot(), 'examples', 'sample.pcap')))) lengths.push(v.packet.data.length);
  assert.deepEqual(lengths, [54, 54, 54, 154, 54, 76, 102, 54, 42]);
  col.close();
  assert.deepEqual(sys.fds(), []);
});

test('runCapture on a program that does not filter packets is an EINVAL at the first step', async () => {
  const sys = new BpfSystem();
  const prog = Program.load(sys, { type: 'unspec', insns: 'r0 = 0\nexit' });
  await assert.rejects(async () => {
    for await (const v of prog.runCapture(new Uint8Array(0))) assert.fail(`ran ${String(v)}`);
  }, { name: 'BpfError', code: 'EINVAL', message: 'a unspec program does not filter packets' });
  prog.close();
});

test('verifyProgram: the verdict as data, the program not kept', () => {
  const sys = new BpfSystem();
  assert.deepEqual(verifyProgram({ insns: 'r0 = 0\nexit' }, sys), { ok: true, log: '0: (b7) r0 = 0\n1: (95) exit\n' });
  assert.deepEqual(verifyProgram({ insns: 'exit' }), { ok: false, code: 'EACCES', message: 'insn 0: R0 !read_ok', log: '0: (95) exit\nR0 !read_ok\n', insn: 0, truncated: false });
  assert.deepEqual(sys.fds(), []);
  // no verifier judged a program of no instructions: thrown, not a verdict
  assert.throws(() => verifyProgram({ insns: new Uint8Array(0) }), { name: 'BpfError', code: 'E2BIG', message: 'the program has no instructions' });
});

test('tsbpf/node: object files by path, errors with the errno and the path', () => {
  const spec = loadCollectionSpecFile(protoCount);
  assert.deepEqual(Object.keys(spec.programs), ['count']);
  assert.throws(() => loadCollectionSpecFile(join(projectRoot(), 'no-such.o')), (e) => e instanceof BpfError && e.code === 'ENOENT' && e.message.startsWith(`${join(projectRoot(), 'no-such.o')}: ENOENT`));
  assert.throws(() => loadCollectionSpecFile(join(projectRoot(), 'package.json')), { name: 'BpfError', code: 'EINVAL', message: `${join(projectRoot(), 'package.json')}: elf: offset 0x0: bad magic 7b 0a 20 20, not an ELF file` });
});
