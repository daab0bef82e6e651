/**
 * Object lifetimes (issue 13, finding 2): a program and its maps live while
 * anything holds them (an fd, a loading program, a PacketRunner, a Program,
 * BpfMap or Collection wrapper), memory is freed only with the last
 * reference, and a closed runner or wrapper answers EBADF on every call
 * without touching memory. Each test runs on every engine (the hardened JIT
 * too) where it runs a program; every assertion is an exact value or errno.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfSystem, BPF_CMD, testRun } from '../src/api/bpf.js';
import type { EngineName } from '../src/api/bpf.js';
import { BpfMap, u32, u64 } from '../src/api/map.js';
import { Program } from '../src/api/program.js';
import { PacketRunner } from '../src/api/packets.js';
import { Collection } from '../src/api/collection.js';
import { loadCollectionSpec } from '../src/loader/collection.js';
import { expectErr } from './expect-error.js';
import { NULL_PAGE_END } from '../src/memory/address-space.js';
import { assemble, encode } from '../src/isa/index.js';
import { projectRoot } from './conformance-data.js';

const ARRAY = 2;
const ENGINES: EngineName[] = ['interpreter', 'jit', 'jit-hardened'];

/** A socket filter counting its runs in element 0 of an array map: returns the new count. */
function counter(mapFd: number): string {
  return `
    *(u32 *)(r10 -4) = 0
    r2 = r10
    r2 += -4
    r1 = map[fd:${mapFd}]
    call 1
    if r0 == 0x0 goto out
    r1 = *(u64 *)(r0 +0)
    r1 += 1
    *(u64 *)(r0 +0) = r1
    r0 = r1
    exit
  out:
    r0 = 0
    exit`;
}

function newArray(sys: BpfSystem): number {
  return sys.bpf(BPF_CMD.BPF_MAP_CREATE, { map_type: ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
}

function element0(sys: BpfSystem, fd: number): bigint {
  const value = new Uint8Array(8);
  sys.bpf(BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: fd, key: new Uint8Array(4), value });
  return new DataView(value.buffer).getBigUint64(0, true);
}

const packet = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0);

describe('a PacketRunner holds its program and the program its maps', () => {
  for (const engine of ENGINES) {
    test(`${engine}: the runner outlives the close of the program and map fds, and keeps the original map`, () => {
      const sys = new BpfSystem();
      const mapFd = newArray(sys);
      const addr = sys.mapOf(mapFd).impl.addr;
      const progFd = sys.bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 1, insns: assembleCounter(mapFd), license: 'GPL' });
      const runner = new PacketRunner(sys, progFd, engine);
      assert.equal(runner.engineName, engine);
      assert.equal(runner.run(packet), 1);
      sys.close(progFd);
      sys.close(mapFd);
      // the original map lives on: nothing is freed while the runner holds the program
      assert.equal(sys.mapByAddr(addr)?.refcnt, 1);
      // a new map of the same shape does not reuse the original's memory
      const fresh = newArray(sys);
      assert.equal(fresh, mapFd);
      assert.notEqual(sys.mapOf(fresh).impl.addr, addr);
      assert.equal(runner.run(packet), 2);
      assert.equal(runner.run(packet), 3);
      assert.equal(runner.lastRetval, 3n);
      assert.equal(element0(sys, fresh), 0n);
      assert.equal(heldElement(sys, addr, 0), 3n);
      runner.close();
      // the last reference gone: the original map is freed, the new one untouched
      assert.equal(sys.mapByAddr(addr), undefined);
      assert.equal(element0(sys, fresh), 0n);
      sys.close(fresh);
      assert.deepEqual(sys.fds(), []);
    });

    test(`${engine}: after runner.close() every call is EBADF and no byte of memory changes`, () => {
      const sys = new BpfSystem();
      const mapFd = newArray(sys);
      const progFd = sys.bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 1, insns: assembleCounter(mapFd), license: 'GPL' });
      const runner = new PacketRunner(sys, progFd, engine);
      assert.equal(runner.run(packet), 1);
      runner.close();
      const before = sys.runtime.mem.u8.slice();
      const big = new Uint8Array(4000).fill(0xee);
      expectErr(() => runner.run(big), 'EBADF', 'the packet runner is closed');
      expectErr(() => runner.run(packet, 14), 'EBADF', 'the packet runner is closed');
      expectErr(() => runner.runBatch([{ data: big, netOff: 14 }, { data: packet, netOff: 14 }]), 'EBADF', 'the packet runner is closed');
      expectErr(() => runner.lastRetval, 'EBADF', 'the packet runner is closed');
      expectErr(() => runner.engineName, 'EBADF', 'the packet runner is closed');
      runner.close(); // a second close is a no-op
      const after = sys.runtime.mem.u8;
      assert.equal(after.length, before.length);
      // the null page (with the run generation word), the stack, and the map header
      assert.deepEqual(after.subarray(0, NULL_PAGE_END), before.subarray(0, NULL_PAGE_END));
      const m = sys.mapOf(mapFd).impl;
      assert.deepEqual(after.subarray(m.region.start - 64, m.region.end), before.subarray(m.region.start - 64, m.region.end));
      assert.equal(Buffer.compare(after, before), 0);
      // the program and map are unchanged for their fds
      assert.equal(element0(sys, mapFd), 1n);
      assert.equal(testRun(sys, progFd, packet, 1, engine).retval, 2n);
    });
  }

  test('three runners (one per engine) and an fd: the program is freed with the last of them; memory returns to where it was', () => {
    const sys = new BpfSystem();
    const warm = newArray(sys);
    element0(sys, warm);
    sys.close(warm);
    const base = sys.runtime.mem.allocatedBytes;
    const mapFd = newArray(sys);
    const progFd = sys.bpf(BPF_CMD.BPF_PROG_LOAD, { prog_type: 1, insns: assembleCounter(mapFd), license: 'GPL' });
    const obj = sys.progOf(progFd);
    const a = new PacketRunner(sys, progFd, 'interpreter');
    const b = new PacketRunner(sys, progFd, 'jit');
    // the hardened JIT is compiled on first use, and freed with the program
    const c = new PacketRunner(sys, progFd, 'jit-hardened');
    assert.equal(obj.refcnt, 4);
    sys.close(mapFd);
    sys.close(progFd);
    assert.equal(obj.refcnt, 3);
    assert.equal(a.run(packet), 1);
    assert.equal(b.run(packet), 2);
    assert.equal(c.run(packet), 3);
    a.close();
    c.close();
    assert.equal(obj.refcnt, 1);
    assert.deepEqual(Array.from(b.runBatch([{ data: packet, netOff: 14 }, { data: packet, netOff: 14 }])), [4, 5]);
    b.close();
    assert.equal(obj.refcnt, 0);
    assert.equal(sys.runtime.mem.allocatedBytes, base);
    assert.deepEqual(sys.fds(), []);
  });

  test('a runner cannot be built from a closed fd or a closed Program', () => {
    const sys = new BpfSystem();
    const prog = Program.load(sys, { insns: 'r0 = 1\nexit' });
    const fd = prog.fd;
    prog.close();
    expectErr(() => new PacketRunner(sys, fd), 'EBADF', 'fd 3 is not open');
    expectErr(() => new PacketRunner(sys, prog), 'EBADF', 'program fd 3 is closed');
  });
});

describe('Program, BpfMap and Collection hold their objects apart from their fds', () => {
  for (const engine of ENGINES) {
    test(`${engine}: a runner built from a Program outlives Program.close() and BpfMap.close()`, () => {
      const sys = new BpfSystem();
      const map = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 }, { key: u32, value: u64 });
      const addr = map.object.impl.addr;
      const prog = Program.load(sys, { insns: counter(map.fd) });
      const runner = new PacketRunner(sys, prog, engine);
      prog.close();
      map.close();
      assert.deepEqual(sys.fds(), []);
      const fresh = BpfMap.create(sys, { type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 }, { key: u32, value: u64 });
      assert.notEqual(fresh.object.impl.addr, addr);
      assert.equal(runner.run(packet), 1);
      assert.equal(runner.run(packet), 2);
      assert.equal(fresh.lookup(0), 0n);
      runner.close();
      assert.equal(sys.mapByAddr(addr), undefined);
      fresh.close();
    });
  }

  test('a Program keeps running its own program when its fd is closed elsewhere and the number reused', () => {
    const sys = new BpfSystem();
    const p = Program.load(sys, { insns: 'r0 = 7\nexit' });
    assert.equal(p.fd, 3);
    sys.close(p.fd);
    const other = Program.load(sys, { insns: 'r0 = 9\nexit' });
    assert.equal(other.fd, 3);
    assert.equal(p.run(), 7n);
    assert.equal(p.verified, true);
    // closing p must not close fd 3, which is now the other program's
    p.close();
    assert.equal(other.run(), 9n);
    assert.equal(testRun(sys, 3).retval, 9n);
    expectErr(() => p.run(), 'EBADF', 'program fd 3 is closed');
    expectErr(() => p.testRun(new Uint8Array(0), 2, 'jit'), 'EBADF', 'program fd 3 is closed');
    expectErr(() => p.verified, 'EBADF', 'program fd 3 is closed');
    expectErr(() => p.object, 'EBADF', 'program fd 3 is closed');
    p.close();
    other.close();
    assert.deepEqual(sys.fds(), []);
  });

  test("a BpfMap acts on its own map when its fd is closed elsewhere and the number reused, and holds the program's view", () => {
    const sys = new BpfSystem();
    const m = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, name: 'mine' }, { key: u32, value: u64 });
    m.update(1, 10n);
    sys.close(m.fd);
    const other = BpfMap.create(sys, { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 }, { key: u32, value: u64 });
    assert.equal(other.fd, m.fd);
    m.update(2, 20n);
    assert.equal(m.lookup(1), 10n);
    assert.deepEqual([...m.keys()].sort(), [1, 2]);
    assert.equal(other.lookup(1), undefined);
    assert.deepEqual([...other.keys()], []);
    assert.equal(m.delete(1), true);
    m.close();
    // fd 3 is still the other map's
    assert.deepEqual(sys.fds(), [{ fd: 3, kind: 'map', id: 2 }]);
    other.update(5, 50n);
    assert.equal(other.lookup(5), 50n);
    expectErr(() => m.lookup(2), 'EBADF', 'map mine is closed');
    expectErr(() => m.update(2, 1n), 'EBADF', 'map mine is closed');
    expectErr(() => m.delete(2), 'EBADF', 'map mine is closed');
    expectErr(() => m.nextKey(), 'EBADF', 'map mine is closed');
    expectErr(() => [...m.keys()], 'EBADF', 'map mine is closed');
    expectErr(() => [...m], 'EBADF', 'map mine is closed');
    other.close();
    assert.deepEqual(sys.fds(), []);
  });

  test('a BpfMap wrapping an fd holds the map: it is freed with the last of the fd and the wrapper', () => {
    const sys = new BpfSystem();
    const fd = newArray(sys);
    const obj = sys.mapOf(fd);
    const w = new BpfMap(sys, fd, u32, u64);
    assert.equal(obj.refcnt, 2);
    sys.close(fd);
    assert.equal(obj.refcnt, 1);
    w.update(0, 5n);
    assert.equal(w.lookup(0), 5n);
    w.close();
    assert.equal(obj.refcnt, 0);
    assert.equal(sys.mapByAddr(obj.impl.addr), undefined);
    expectErr(() => sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_LOOKUP_ELEM, { key: new Uint8Array(4), value: new Uint8Array(8) }), 'EBADF', 'map 1 has been freed');
    expectErr(() => sys.hold(obj), 'EBADF', 'map 1 has been freed');
  });

  test('bpfOnMap refuses a map_fd and the commands that do not act on a map', () => {
    const sys = new BpfSystem();
    const fd = newArray(sys);
    const obj = sys.mapOf(fd);
    expectErr(() => sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_LOOKUP_ELEM, { map_fd: fd, key: new Uint8Array(4), value: new Uint8Array(8) }), 'EINVAL', 'map_fd must be absent: the command acts on the map held');
    expectErr(() => sys.bpfOnMap(obj, BPF_CMD.BPF_MAP_CREATE, {}), 'EINVAL', 'BPF_MAP_CREATE does not act on a map');
    expectErr(() => sys.bpfOnMap(obj, BPF_CMD.BPF_PROG_LOAD, {}), 'EINVAL', 'BPF_PROG_LOAD does not act on a map');
  });

  test('a Collection holds its programs: a runner outlives Collection.close(), which closes only its own fds', () => {
    const sys = new BpfSystem();
    const col = new Collection(sys, loadCollectionSpec(new Uint8Array(readFileSync(join(projectRoot(), 'examples', 'proto-count.o')))));
    const fd = col.programs['count']!.fd;
    const mapAddr = col.maps['proto_count']!.object.impl.addr;
    const runner = new PacketRunner(sys, fd, 'interpreter');
    // the user closes the program's fd; another program takes the number
    sys.close(fd);
    const other = Program.load(sys, { insns: 'r0 = 3\nexit' });
    assert.equal(other.fd, fd);
    col.close();
    assert.deepEqual(sys.fds(), [{ fd, kind: 'prog', id: 2 }]);
    assert.equal(other.run(), 3n);
    // the map lives on in the runner's program and counts what it runs
    const tcp = new Uint8Array(60);
    tcp.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45], 0);
    tcp[23] = 6;
    runner.run(tcp);
    assert.equal(heldElement(sys, mapAddr, 6), 1n);
    runner.close();
    assert.equal(sys.mapByAddr(mapAddr), undefined);
    other.close();
    assert.deepEqual(sys.fds(), []);
  });
});

/** The counter program as raw instructions (for BPF_PROG_LOAD through bpf()). */
function assembleCounter(mapFd: number): Uint8Array {
  return encode(assemble(counter(mapFd)));
}

/** The first 8 bytes of element `key` (u32) of a map no fd names any more, read through the map held. */
function heldElement(sys: BpfSystem, addr: number, key: number): bigint {
  const m = sys.mapByAddr(addr);
  assert.ok(m !== undefined, 'the map is alive');
  const value = new Uint8Array(m.impl.valueSize);
  sys.bpfOnMap(m, BPF_CMD.BPF_MAP_LOOKUP_ELEM, { key: u32.encode(key), value });
  return new DataView(value.buffer).getBigUint64(0, true);
}
