/**
 * How the API's error messages show a caller's values: one line, without
 * calling user code (no toString, no getters). Every file of api/ words its
 * EINVAL and EFAULT messages with these, so they live apart from the
 * command code that uses them most (bpf.ts).
 */

/** A string in single quotes on one line: control characters escaped, long ones cut at 40. */
export function quote(v: string): string {
  const cut = v.length > 40 ? v.slice(0, 40) + '...' : v;
  return `'${JSON.stringify(cut).slice(1, -1)}'`;
}

/**
 * A value as an error message shows it, without calling user code: strings
 * quoted, so '3' does not read as the number 3; objects by their kind.
 */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `${quote(v)} (a string)`;
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined) return String(v);
  if (v === null) return 'null';
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  const kind = Object.prototype.toString.call(v).slice(8, -1);
  return kind === 'Object' ? 'an object' : `${/^[AEIO]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
