/**
 * The one way the CLI shows a map, whatever ran it (run --data, run --pcap,
 * batch): bpftool's. Text is a header naming the map, then `bpftool map dump`'s
 * plain entries (print_entry_plain: `key: 01 00 00 00  value: 2a 00 ...`); JSON
 * is {"name", "type", "key_size", "value_size", "entries": [{"key", "value"}]},
 * hex strings, entries in the map's own order (its get_next_key order), as
 * bpftool dumps them.
 */

import type { BpfMap } from '../api/map.js';
import { findMapType, mapTypeName } from '../maps/types.js';

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

export interface MapDumpJson {
  name: string;
  type: string;
  key_size: number;
  value_size: number;
  entries: { key: string; value: string }[];
}

/** A map as JSON: every entry, in map order. */
export function mapDumpJson(name: string, m: BpfMap): MapDumpJson {
  return {
    name,
    type: mapTypeName(m.type),
    key_size: m.keySize,
    value_size: m.valueSize,
    entries: [...m.entries()].map(([k, v]) => ({ key: hex(k), value: hex(v) })),
  };
}

/**
 * A map as text after a run: `map NAME type hash key 16B value 16B entries 5`,
 * then one bpftool entry per element. An array's elements all exist, mostly
 * zero after a run: those are counted in the header, not printed.
 */
export function mapDumpText(name: string, m: BpfMap): string {
  const all = [...m.entries()];
  const dense = findMapType(m.type)?.dense === true;
  const shown = dense ? all.filter(([, v]) => v.some((b) => b !== 0)) : all;
  const hidden = all.length - shown.length;
  const head = `map ${name} type ${mapTypeName(m.type)} key ${m.keySize}B value ${m.valueSize}B entries ${all.length}${hidden > 0 ? ` (${hidden} all-zero not shown)` : ''}\n`;
  return head + shown.map(([k, v]) => printEntry(k, v)).join('');
}
