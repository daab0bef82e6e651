/**
 * `tsbpf inspect`'s view of an object's variables: each variable of its
 * global data with its section, offset, size, C type and initial value.
 * A value is shown as JSON, the form `--set NAME=VALUE` takes back (a
 * number, a string for a char array, an enumerator's name, an object for a
 * struct), with 64-bit integers exact (bigints written as JSON numbers)
 * and raw bytes as hex. A value the codec cannot decode (a hostile type)
 * is shown as its error, so the rest of the listing stays.
 */

import { BpfError } from '../errors.js';
import type { VariableSpec } from '../loader/variables.js';

/** One variable as `inspect --json` gives it. */
export interface VariableView {
  name: string;
  section: string;
  offset: number;
  size: number;
  type: string;
  readonly: boolean;
  /** the initial value as JSON text, or undefined with `error` when it cannot be decoded */
  value?: string;
  error?: string;
}

/** Every variable of a spec, in the spec's order; values compact JSON, or `spaced` for the text listing. */
export function variableViews(variables: Record<string, VariableSpec>, spaced = false): VariableView[] {
  return Object.entries(variables).map(([key, v]) => {
    const out: VariableView = { name: key, section: v.section, offset: v.offset, size: v.size, type: v.type, readonly: v.readonly };
    try {
      out.value = valueJson(v.get(), spaced);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      out.error = e.message;
    }
    return out;
  });
}

/**
 * A decoded value as JSON text: bigints as exact numbers, Uint8Arrays as
 * hex strings; `spaced` puts a space after each comma and colon (the text
 * listing), else compact (--json).
 */
export function valueJson(value: unknown, spaced = false): string {
  const comma = spaced ? ', ' : ',';
  const colon = spaced ? ': ' : ':';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('hex'));
  if (Array.isArray(value)) return `[${value.map((v) => valueJson(v, spaced)).join(comma)}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}${colon}${valueJson(v, spaced)}`).join(comma)}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `inspect --json`'s variables: the views with each value as JSON (not a string of it). */
export function variablesJson(views: readonly VariableView[]): string {
  return `[${views.map((v) => {
    const fields = [`"name":${JSON.stringify(v.name)}`, `"section":${JSON.stringify(v.section)}`, `"offset":${v.offset}`, `"size":${v.size}`,
      `"type":${JSON.stringify(v.type)}`, `"readonly":${v.readonly}`, v.value !== undefined ? `"value":${v.value}` : `"error":${JSON.stringify(v.error)}`];
    return `{${fields.join(',')}}`;
  }).join(',')}]`;
}
