/**
 * `tsbpf batch FILE` and `tsbpf shell`: bpftool's command syntax executed in
 * one process, so maps live from line to line (docs/cli.md,
 * "batch and shell"). Human output follows bpftool's plain output
 * (print_entry_plain, `Found N elements`); `--json` prints one object per
 * command line. A failing line does not stop the batch.
 */

import { BpfError } from '../errors.js';
import { BpfSystem } from '../api/bpf.js';
import { BpfMap } from '../api/map.js';
import type { UpdateFlag } from '../api/map.js';
import { MAP_TYPES, findMapTypeByName, mapTypeName } from '../maps/types.js';
import type { MapTypeName } from '../maps/types.js';
import { fprintHex, mapContents, mapDumpJson, printEntry, printPerCpuEntry } from './map-view.js';

export type BatchResult = { ok: true; [k: string]: unknown } | { ok: false; code: string };

class UsageError extends Error {}

const usage = (msg: string): never => {
  throw new UsageError(msg);
};

export { fprintHex, printEntry } from './map-view.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Split a line into words; `#` starts a comment. */
export function tokenize(line: string): string[] {
  const hash = line.indexOf('#');
  return (hash >= 0 ? line.slice(0, hash) : line).trim().split(/\s+/).filter((t) => t !== '');
}

export class BatchSession {
  readonly sys: BpfSystem;
  /** the modern profile: 6.18's map types and map_flags */
  private readonly modern: boolean;

  constructor(options: { profile?: '3.19' | 'modern'; cpus?: number } = {}) {
    this.modern = options.profile === 'modern';
    this.sys = new BpfSystem({ profile: options.profile ?? '3.19', cpus: options.cpus ?? 1 });
  }
  private readonly maps: BpfMap[] = [];
  private readonly pinned = new Map<string, BpfMap>();

  /**
   * Execute one line. Returns undefined for a blank or comment line, else the
   * JSON result, the human output, and for a failure its one-line message.
   */
  execute(line: string): { result: BatchResult; out: string; error?: string } | undefined {
    const words = tokenize(line);
    if (words.length === 0) return undefined;
    const out: string[] = [];
    try {
      return { result: this.dispatch(words, out), out: out.join('') };
    } catch (e) {
      if (e instanceof BpfError) return { result: { ok: false, code: e.code }, out: out.join(''), error: `${e.message} (${e.code})` };
      if (e instanceof UsageError) return { result: { ok: false, code: 'EINVAL' }, out: out.join(''), error: `${e.message} (EINVAL)` };
      throw e;
    }
  }

  private dispatch(w: string[], out: string[]): BatchResult {
    const [obj, cmd, ...args] = w;
    if (obj !== 'map') usage(`unknown object '${obj}' (only 'map' so far)`);
    switch (cmd) {
      case 'create': return this.create(args);
      case 'update': return this.update(args);
      case 'lookup': return this.lookup(args, out);
      case 'getnext': return this.getnext(args, out);
      case 'delete': return this.delete(args);
      case 'push':
      case 'enqueue': return this.push(args, cmd);
      case 'pop':
      case 'dequeue':
      case 'peek': return this.pop(args, out, cmd);
      case 'dump': return this.dump(args, out);
      case 'show':
      case 'list': return this.show(args, out);
      default: return usage(`unknown map command '${cmd ?? ''}' (create, update, lookup, getnext, delete, dump, show, push, pop, peek, enqueue, dequeue)`);
    }
  }

  private create(a: string[]): BatchResult {
    const path = a.shift() ?? usage('map create: PATH expected');
    const opts = new Map<string, string>();
    while (a.length > 0) {
      const k = a.shift()!;
      if (!['type', 'key', 'value', 'entries', 'name', 'flags'].includes(k)) usage(`map create: unknown keyword '${k}'`);
      if (opts.has(k)) usage(`map create: '${k}' given twice`);
      opts.set(k, a.shift() ?? usage(`map create: '${k}' needs a value`));
    }
    for (const k of ['type', 'key', 'value', 'entries', 'name']) if (!opts.has(k)) usage(`map create: '${k}' is required`);
    const type = opts.get('type')!;
    if (!findMapTypeByName(type)) usage(`map create: type must be ${MAP_TYPES.map((t) => t.name).join(' or ')}, got '${type}'`);
    if (this.pinned.has(path)) throw new BpfError('EEXIST', `map create: '${path}' is already pinned`);
    const num = (k: string): number => {
      const v = opts.get(k)!;
      const n = parseNumber(v);
      if (n === undefined || n < 0 || n > 0xffffffff) usage(`map create: ${k} must be an unsigned 32-bit number, got '${v}'`);
      return n!;
    };
    const flags = opts.has('flags') ? num('flags') : 0;
    if (flags !== 0 && !this.modern) throw new BpfError('EINVAL', `map create: map flags 0x${flags.toString(16)} are not supported (3.19 has none; --profile modern has 6.18's)`);
    const spec = { type: type as MapTypeName, keySize: num('key'), valueSize: num('value'), maxEntries: num('entries'), name: opts.get('name')!, ...(flags !== 0 ? { flags } : {}) };
    const m = BpfMap.create(this.sys, spec);
    this.maps.push(m);
    this.pinned.set(path, m);
    return { ok: true, id: this.sys.mapOf(m.fd).id };
  }

  /** MAP: id N | pinned PATH | name NAME */
  private map(a: string[], cmd: string): BpfMap {
    const how = a.shift();
    const what = a.shift() ?? usage(`map ${cmd}: MAP expected (id N, pinned PATH or name NAME)`);
    let m: BpfMap | undefined;
    if (how === 'id') {
      const id = parseNumber(what);
      m = this.maps.find((x) => this.sys.mapOf(x.fd).id === id);
    } else if (how === 'pinned') m = this.pinned.get(what);
    else if (how === 'name') {
      const found = this.maps.filter((x) => x.name === what);
      if (found.length > 1) usage(`map ${cmd}: several maps are named '${what}', use id or pinned`);
      m = found[0];
    } else usage(`map ${cmd}: MAP expected (id N, pinned PATH or name NAME), got '${how ?? ''}'`);
    if (!m) throw new BpfError('ENOENT', `map ${cmd}: no map ${how} ${what}`);
    return m;
  }

  /** `key [hex] BYTES`: exactly `size` bytes, decimal/0x/octal as strtoul base 0, or hex after `hex`. */
  private bytes(a: string[], keyword: string, size: number, cmd: string): Uint8Array {
    if (a.shift() !== keyword) usage(`map ${cmd}: '${keyword}' expected`);
    let base = 0;
    if (a[0] === 'hex') {
      a.shift();
      base = 16;
    }
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const t = a[0];
      const v = t === undefined ? undefined : base === 16 ? (/^(0x)?[0-9a-f]{1,2}$/i.test(t) ? parseInt(t.replace(/^0x/i, ''), 16) : undefined) : parseNumber(t);
      if (v === undefined || v > 255) usage(`map ${cmd}: ${keyword} expected ${size} bytes got ${i}`);
      out[i] = v!;
      a.shift();
    }
    return out;
  }

  private update(a: string[]): BatchResult {
    const m = this.map(a, 'update');
    const key = this.bytes(a, 'key', m.keySize, 'update');
    // a per-CPU map: one value for every CPU, or one per CPU in a row
    const cpus = m.perCpu ? this.sys.runtime.cpus : 1;
    const count = cpus > 1 && a.slice(1 + (a[1] === 'hex' ? 1 : 0)).filter((t) => !['any', 'noexist', 'exist'].includes(t)).length === m.valueSize * cpus ? cpus : 1;
    const value = this.bytes(a, 'value', m.valueSize * count, 'update');
    const flag = (a.shift() ?? 'any') as UpdateFlag;
    if (!['any', 'noexist', 'exist'].includes(flag)) usage(`map update: flag must be any, noexist or exist, got '${flag}'`);
    if (a.length > 0) usage(`map update: unexpected '${a[0]}'`);
    if (m.perCpu) {
      const each = Array.from({ length: count }, (_, c) => value.slice(c * m.valueSize, (c + 1) * m.valueSize));
      m.updatePerCpu(key, count === 1 ? each[0]! : each, flag);
    } else m.update(key, value, flag);
    return { ok: true };
  }

  /** push / enqueue (queue, stack): `value BYTES [any|exist]` (exist: a full map drops its oldest value) */
  private push(a: string[], cmd: string): BatchResult {
    const m = this.map(a, cmd);
    const value = this.bytes(a, 'value', m.valueSize, cmd);
    const flag = a.shift() ?? 'any';
    if (flag !== 'any' && flag !== 'exist') return usage(`map ${cmd}: flag must be any or exist, got '${flag}'`);
    if (a.length > 0) usage(`map ${cmd}: unexpected '${a[0]}'`);
    m.push(value, flag);
    return { ok: true };
  }

  /** pop / dequeue / peek: the oldest (queue) or newest (stack) value, removed but by peek */
  private pop(a: string[], out: string[], cmd: string): BatchResult {
    const m = this.map(a, cmd);
    if (a.length > 0) usage(`map ${cmd}: unexpected '${a[0]}'`);
    const v = cmd === 'peek' ? m.peek() : m.pop();
    if (v === undefined) throw new BpfError('ENOENT', `map ${cmd}: the map is empty`);
    out.push(`value:\n${fprintHex(v)}\n`);
    return { ok: true, value: hex(v) };
  }

  private lookup(a: string[], out: string[]): BatchResult {
    const m = this.map(a, 'lookup');
    const key = this.bytes(a, 'key', m.keySize, 'lookup');
    if (a.length > 0) usage(`map lookup: unexpected '${a[0]}'`);
    const v = m.lookup(key);
    if (v === undefined) {
      out.push(`key:\n${fprintHex(key)}\n\nNot found\n`);
      throw new BpfError('ENOENT', 'map lookup: no such key');
    }
    out.push(printEntry(key, v));
    return { ok: true, value: hex(v) };
  }

  private getnext(a: string[], out: string[]): BatchResult {
    const m = this.map(a, 'getnext');
    const key = a.length > 0 ? this.bytes(a, 'key', m.keySize, 'getnext') : undefined;
    if (a.length > 0) usage(`map getnext: unexpected '${a[0]}'`);
    const next = m.nextKey(key);
    if (next === undefined) throw new BpfError('ENOENT', 'map getnext: no next key');
    out.push(`${key ? `key:\n${fprintHex(key)}\n` : 'key: None\n'}next key:\n${fprintHex(next)}\n`);
    return { ok: true, next_key: hex(next) };
  }

  private delete(a: string[]): BatchResult {
    const m = this.map(a, 'delete');
    const key = this.bytes(a, 'key', m.keySize, 'delete');
    if (a.length > 0) usage(`map delete: unexpected '${a[0]}'`);
    if (!m.delete(key)) throw new BpfError('ENOENT', 'map delete: no such key');
    return { ok: true };
  }

  private dump(a: string[], out: string[]): BatchResult {
    const m = this.map(a, 'dump');
    if (a.length > 0) usage(`map dump: unexpected '${a[0]}'`);
    // the JSON is the map view every command shows (map-view.ts); the text is bpftool's dump
    const c = mapContents(m);
    const dump = mapDumpJson(m.name, m, c);
    if (c.kind === 'entries') for (const [k, v] of c.entries) out.push(printEntry(k, v));
    if (c.kind === 'percpu') for (const [k, v] of c.entries) out.push(printPerCpuEntry(k, v));
    const n = c.kind === 'entries' || c.kind === 'percpu' ? c.entries.length : c.kind === 'records' ? c.records.length : c.values.length;
    out.push(`Found ${n} element${n === 1 ? '' : 's'}\n`);
    return { ok: true, ...dump };
  }

  private show(a: string[], out: string[]): BatchResult {
    const list = a.length > 0 ? [this.map(a, 'show')] : this.maps.filter((m) => this.sys.fds().some((f) => f.fd === m.fd));
    const maps = list.map((m) => {
      const id = this.sys.mapOf(m.fd).id;
      const type = mapTypeName(m.type);
      out.push(`${id}: ${type}  name ${m.name}  flags 0x${this.sys.mapOf(m.fd).impl.mapFlags.toString(16)}\n\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}\n`);
      return { id, type, name: m.name, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries };
    });
    return { ok: true, maps };
  }
}

/** strtoul with base 0: 0x hex, leading-0 octal, decimal. */
function parseNumber(t: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[0-7]+$/.test(t)) return parseInt(t.slice(1), 8);
  if (/^\d+$/.test(t)) return Number(t);
  return undefined;
}
