/**
 * The one way the CLI shows a map, whatever ran it (run --data, run --pcap,
 * batch): bpftool's. Text is a header naming the map, then `bpftool map dump`'s
 * plain entries (print_entry_plain: `key: 01 00 00 00  value: 2a 00 ...`); JSON
 * is {"name", "type", "key_size", "value_size", "entries": [{"key", "value"}]},
 * hex strings, entries in the map's own order (its get_next_key order), as
 * bpftool dumps them. A per-CPU map's entries are {"key", "values": [one per
 * CPU]} (bpftool's `value (CPU 00):` lines in text); a ring buffer is
 * {"name", "type": "ringbuf", "records": [...]}, the records a consumer
 * reads after the run, in order (reading them consumes them); a queue or
 * stack {"name", "type", "value_size", "values"}, in pop order (emptying it).
 * Each map is read once (mapContents) and both views are made from that.
 *
 * A map with BTF (an object's `__type(key, ...)`, `__type(value, ...)`)
 * shows its entries as `bpftool map dump` does with BTF: text as its
 * JSON-like listing with field names (`"value": {"packets": 14, ...}`),
 * and in JSON each entry gains bpftool -j's `"formatted": {"key": ...,
 * "value": ...}` (per-CPU: `"values": [{"cpu": 0, "value": ...}]`); the
 * formatted values are written as bpftool writes them (u64 exact, bitfields
 * as hex strings), so JSON lines holding them go through jsonLine.
 */

import type { BpfMap } from '../api/map.js';
import { findMapType, mapTypeName } from '../maps/types.js';
import { BtfDumpLeaf, BtfDumpObject, btfDump, btfDumpDatasec, btfJson, btfText } from '../btf/index.js';
import type { BtfDumpNode } from '../btf/index.js';
import type { MapBtf } from '../loader/spec.js';

/**
 * JSON text to be written as it is inside a JSON line (jsonLine); toJSON
 * gives its parsed value to anything else that stringifies it (a u64 past
 * 2^53 then loses its last digits, which jsonLine does not).
 */
export class RawJson {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

/** JSON.stringify, with RawJson values written as their text (the one way CLI lines holding them are written). */
export function jsonLine(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const own = this[key];
    if (own instanceof RawJson) {
      raws.push(own.json);
      // a lone surrogate: no decoded string has one (names come through TextDecoder), so the marker is unique
      return `\ud800${raws.length - 1}\ud800`;
    }
    return v;
  });
  return raws.length === 0 ? text : text.replace(/"\\ud800(\d+)\\ud800"/g, (_, i: string) => raws[Number(i)]!);
}

/** The BTF a map's dump uses: its value type, and its key type when it has one (as bpftool with btf_id set). */
function dumpBtf(m: BpfMap): MapBtf | undefined {
  return m.btf !== undefined && m.btf.value !== 0 ? m.btf : undefined;
}

/** One entry as bpftool's do_dump_btf walks it: key (when typed), then value, or values per CPU. */
export function formattedEntry(mb: MapBtf, key: Uint8Array, value: Uint8Array | readonly Uint8Array[]): BtfDumpObject {
  const members: [string, BtfDumpNode][] = [];
  const dump = (v: Uint8Array): BtfDumpNode => (mb.vars ? btfDumpDatasec(mb.btf, mb.value, mb.vars, v) : btfDump(mb.btf, mb.value, v));
  if (mb.key !== 0) members.push(['key', btfDump(mb.btf, mb.key, key)]);
  if (value instanceof Uint8Array) members.push(['value', dump(value)]);
  else {
    members.push(['values', value.map((v, cpu) => new BtfDumpObject([['cpu', new BtfDumpLeaf(String(cpu), String(cpu))], ['value', dump(v)]]))]);
  }
  return new BtfDumpObject(members);
}

/** bpftool's fprint_hex: bytes as %02x, a double space every 8, a newline every 16. */
export function fprintHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (i > 0) s += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += b[i]!.toString(16).padStart(2, '0');
  }
  return s;
}

/** bpftool's print_entry_plain for one key/value pair. */
export function printEntry(key: Uint8Array, value: Uint8Array): string {
  const breakNames = key.length > 16 || value.length > 16;
  const singleLine = key.length + value.length <= 24 && !breakNames;
  return `key:${breakNames ? '\n' : ' '}${fprintHex(key)}${singleLine ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${fprintHex(value)}\n`;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export type MapDumpJson =
  | { name: string; type: string; key_size: number; value_size: number; entries: ({ key: string; value: string; formatted?: RawJson } | { key: string; values: string[]; formatted?: RawJson })[] }
  | { name: string; type: 'ringbuf'; records: string[] }
  | { name: string; type: string; value_size: number; values: string[] };

/** What a map holds after a run, read once: keyed entries (one value each, or one per CPU), ring buffer records, or queue/stack values. */
export type MapContents =
  | { kind: 'entries'; entries: [Uint8Array, Uint8Array][] }
  | { kind: 'percpu'; entries: [Uint8Array, Uint8Array[]][] }
  | { kind: 'records'; records: Uint8Array[] }
  | { kind: 'values'; values: Uint8Array[] };

/** per-CPU hash, per-CPU array, LRU per-CPU hash: shown with one value per CPU, even with one CPU */
const PERCPU = new Set([5, 6, 10]);
const RINGBUF = 27;
const QUEUE = 22;
const STACK = 23;

/** Read `m` (consuming a ring buffer's records and a queue's or stack's values). */
export function mapContents(m: BpfMap): MapContents {
  if (m.type === RINGBUF) return { kind: 'records', records: m.records() };
  if (m.type === QUEUE || m.type === STACK) {
    const values: Uint8Array[] = [];
    for (let v = m.pop(); v !== undefined && values.length <= m.maxEntries; v = m.pop()) values.push(v);
    return { kind: 'values', values };
  }
  if (PERCPU.has(m.type)) return { kind: 'percpu', entries: [...m.keys()].flatMap((k) => { const v = m.lookupPerCpu(k); return v ? [[k, v] as [Uint8Array, Uint8Array[]]] : []; }) };
  return { kind: 'entries', entries: [...m.entries()] };
}

/** A map as JSON: every entry, in map order. */
export function mapDumpJson(name: string, m: BpfMap, c: MapContents = mapContents(m)): MapDumpJson {
  const type = mapTypeName(m.type);
  const mb = dumpBtf(m);
  const formatted = (k: Uint8Array, v: Uint8Array | readonly Uint8Array[]): { formatted?: RawJson } =>
    mb ? { formatted: new RawJson(btfJson(formattedEntry(mb, k, v))) } : {};
  switch (c.kind) {
    case 'records':
      return { name, type: 'ringbuf', records: c.records.map(hex) };
    case 'values':
      return { name, type, value_size: m.valueSize, values: c.values.map(hex) };
    case 'percpu':
      return { name, type, key_size: m.keySize, value_size: m.valueSize, entries: c.entries.map(([k, v]) => ({ key: hex(k), values: v.map(hex), ...formatted(k, v) })) };
    case 'entries':
      return { name, type, key_size: m.keySize, value_size: m.valueSize, entries: c.entries.map(([k, v]) => ({ key: hex(k), value: hex(v), ...formatted(k, v) })) };
  }
}

/** bpftool's plain entry of a per-CPU map: the key, then `value (CPU NN):` per CPU. */
export function printPerCpuEntry(key: Uint8Array, values: readonly Uint8Array[]): string {
  const sep = values[0] !== undefined && values[0].length > 16 ? '\n' : ' ';
  return `key:\n${fprintHex(key)}\n${values.map((v, i) => `value (CPU ${String(i).padStart(2, '0')}):${sep}${fprintHex(v)}\n`).join('')}`;
}

const zero = (v: Uint8Array): boolean => v.every((b) => b === 0);

/**
 * A map as text after a run: `map NAME type hash key 16B value 16B entries 5`,
 * then one bpftool entry per element. An array's elements all exist, mostly
 * zero after a run: those are counted in the header, not printed (a per-CPU
 * array's when every CPU's value is zero). A ring buffer: `map NAME type
 * ringbuf records N`, then `record: HEX` each; a queue or stack its values.
 */
export function mapDumpText(name: string, m: BpfMap, c: MapContents = mapContents(m)): string {
  const type = mapTypeName(m.type);
  if (c.kind === 'records') return `map ${name} type ${type} records ${c.records.length}\n` + c.records.map((r) => `record: ${fprintHex(r)}\n`).join('');
  if (c.kind === 'values') return `map ${name} type ${type} value ${m.valueSize}B values ${c.values.length}\n` + c.values.map((v) => `value: ${fprintHex(v)}\n`).join('');
  const dense = findMapType(m.type)?.dense === true;
  const total = c.entries.length;
  const mb = dumpBtf(m);
  let body: string[];
  let hidden: number;
  if (c.kind === 'percpu') {
    const shown = dense ? c.entries.filter(([, vs]) => !vs.every(zero)) : c.entries;
    hidden = total - shown.length;
    body = mb ? btfEntriesText(shown.map(([k, vs]) => formattedEntry(mb, k, vs))) : shown.map(([k, vs]) => printPerCpuEntry(k, vs));
  } else {
    const shown = dense ? c.entries.filter(([, v]) => !zero(v)) : c.entries;
    hidden = total - shown.length;
    body = mb ? btfEntriesText(shown.map(([k, v]) => formattedEntry(mb, k, v))) : shown.map(([k, v]) => printEntry(k, v));
  }
  const head = `map ${name} type ${type} key ${m.keySize}B value ${m.valueSize}B entries ${total}${hidden > 0 ? ` (${hidden} all-zero not shown)` : ''}\n`;
  return head + body.join('');
}

/** Entries as `bpftool map dump` prints them with BTF: one JSON-like array, each entry an object; none: nothing. */
function btfEntriesText(entries: BtfDumpObject[]): string[] {
  return entries.length === 0 ? [] : [`${btfText(entries)}\n`];
}
