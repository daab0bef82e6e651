/**
 * The verifier against the kernel's own test table: every case of
 * samples/bpf/test_verifier.c as of v3.19 (test/verifier-cases.ts), loaded
 * through BPF_PROG_LOAD as BPF_PROG_TYPE_UNSPEC exactly as the kernel test
 * did: ACCEPT loads, REJECT fails with a log containing the kernel test's
 * errstr and with the errno 3.19 returns for that message.
 *
 * Whole logs, written by hand from the 3.19 algorithm and log format
 * (../shared/docs/linux-3.19/verifier.md section 1), are baselines in
 * test/verifier/ (verifier-baselines.test.ts), this table's "add+sub+mul"
 * and "sometimes access memory with incorrect alignment" among them.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { BpfSystem } from '../src/api/bpf.js';
import { BpfError } from '../src/errors.js';
import type { Slot } from '../src/isa/instruction.js';
import { encodeSlots } from '../src/isa/instruction.js';
import { CASES, slotsOf } from './verifier-cases.js';
import type { VerifierCase } from './verifier-cases.js';

const BPF_PROG_TYPE_UNSPEC = 0;
const BPF_MAP_TYPE_HASH = 1;
const BPF_PSEUDO_MAP_FD = 1;
const LOG_SIZE = 65536;

/** test_verifier.c's create_map(): a hash map of 8-byte keys and values, 1024 entries. */
function createMap(sys: BpfSystem): number {
  return sys.bpf('BPF_MAP_CREATE', { map_type: BPF_MAP_TYPE_HASH, key_size: 8, value_size: 8, max_entries: 1024 });
}

/** The kernel test's fixup: each listed slot's imm becomes the map fd (a pseudo ld_imm64). */
function applyFixup(slots: Slot[], fixup: readonly number[], fd: number): void {
  for (const i of fixup) {
    const s = slots[i];
    assert.ok(s && s.code === 0x18, `fixup slot ${i} is not an ld_imm64`);
    s.src = BPF_PSEUDO_MAP_FD;
    s.imm = fd;
  }
}

type Outcome = { accepted: true; fd: number; log: string } | { accepted: false; err: BpfError; log: string };

/** The text of a NUL-terminated log buffer. */
function bufText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

function load(sys: BpfSystem, slots: readonly Slot[]): Outcome {
  const insns = encodeSlots(slots);
  const logBuf = new Uint8Array(LOG_SIZE);
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: BPF_PROG_TYPE_UNSPEC,
      insns,
      insn_cnt: insns.length / 8,
      license: 'GPL',
      log_level: 1,
      log_size: LOG_SIZE,
      log_buf: logBuf,
    });
    return { accepted: true, fd, log: bufText(logBuf) };
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    return { accepted: false, err: e, log: e.log ?? bufText(logBuf) };
  }
}

function runCase(c: VerifierCase): void {
  const sys = new BpfSystem();
  const slots = slotsOf(c.insns);
  let mapFd = -1;
  if (c.fixup && c.fixup.length > 0) {
    mapFd = createMap(sys);
    applyFixup(slots, c.fixup, mapFd);
  }
  const out = load(sys, slots);
  try {
    if (c.result === 'ACCEPT') {
      if (!out.accepted) {
        assert.fail(`expected ACCEPT, got ${out.err.code}: ${out.err.message}\n--- log ---\n${out.log}`);
      }
      sys.close(out.fd);
    } else {
      if (out.accepted) {
        sys.close(out.fd);
        assert.fail(`expected REJECT (${c.errno}, '${c.errstr}'), but the program loaded\n--- log ---\n${out.log}`);
      }
      const log = out.err.log ?? '';
      if (c.errstr) {
        assert.ok(log.includes(c.errstr), `log does not contain '${c.errstr}'\n--- log ---\n${log}`);
      }
      assert.equal(out.err.code, c.errno, `errno for '${c.errstr}'\n--- log ---\n${log}`);
    }
  } finally {
    if (mapFd >= 0) sys.close(mapFd);
  }
}

describe('samples/bpf/test_verifier.c (v3.19)', () => {
  test('the table: 46 cases, unique names, every REJECT with an errno', () => {
    assert.equal(CASES.length, 46);
    assert.equal(new Set(CASES.map((c) => c.descr)).size, CASES.length);
    for (const c of CASES) {
      if (c.result === 'REJECT') assert.ok(c.errno, c.descr);
      else assert.equal(c.errstr, undefined, c.descr);
    }
  });

  CASES.forEach((c, i) => {
    test(`#${i} ${c.descr}`, () => runCase(c));
  });
});
