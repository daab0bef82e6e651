/**
 * The CLI's argument parser and its per-command help. Each command declares
 * a CommandSpec (usage, options, arguments, an example); parseCommand reads
 * argv against it and help() prints it. Our own parser rather than
 * node:util's parseArgs, so that every mistake reads in tsbpf's words as one
 * line (`run: unknown option '--foo'`, `--repeat needs a value`), and so
 * that an option's value may start with '-' (`--repeat -1` is then refused
 * by the option's own check, `--data-file -` reads standard input).
 */

import { CliError } from './cli-error.js';

export interface OptionSpec {
  /** the long name, without '--' */
  name: string;
  /** a one-letter alias, without '-' */
  short?: string;
  /** the value's placeholder in help (`N`, `FILE`); absent for a flag */
  value?: string;
  /** may be given many times: its values are collected in `Parsed.lists`, in order */
  repeatable?: true;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** the synopsis lines, without the leading 'tsbpf ' */
  usage: string[];
  /** what the command does, a few lines */
  summary: string;
  /** the positional arguments: [name, description] */
  args: [string, string][];
  /** how many positional arguments: [min, max] */
  positionals: [number, number];
  options: OptionSpec[];
  /** command lines, without the leading 'tsbpf ' */
  examples: string[];
  /** a closing paragraph: environment, notes */
  notes?: string;
}

export interface Parsed {
  /** a flag is true, an option with a value its string */
  values: Record<string, string | true>;
  /** each repeatable option's values in the order given (absent when not given) */
  lists: Record<string, string[]>;
  positionals: string[];
  /** -h or --help was given: print help, run nothing */
  help: boolean;
}

const HELP: OptionSpec = { name: 'help', short: 'h', help: 'print this help and exit' };

/**
 * Read `args` as the options and arguments of `spec`. -h/--help anywhere
 * before `--` wins over everything else (nothing is checked, nothing runs);
 * any other mistake is a CliError, exit 2, EINVAL.
 */
export function parseCommand(spec: CommandSpec, args: readonly string[]): Parsed {
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help')) return { values: {}, lists: {}, positionals: [], help: true };
  const fail = (msg: string): never => {
    throw new CliError(`${spec.name}: ${msg}; see 'tsbpf ${spec.name} --help'`, 2, 'EINVAL');
  };
  const usage = (msg: string): never => {
    throw new CliError(`${spec.name}: ${msg} (usage: tsbpf ${spec.usage[0]!})`, 2, 'EINVAL');
  };
  const values: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  const positionals: string[] = [];
  const options = [...spec.options, HELP];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a === '-' || !a.startsWith('-')) {
      positionals.push(a);
      continue;
    }
    let opt: OptionSpec | undefined;
    let inline: string | undefined;
    let shown: string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) inline = a.slice(eq + 1);
      shown = `--${name}`;
      opt = options.find((o) => o.name === name);
    } else {
      // -o OUT or -oOUT
      shown = a.slice(0, 2);
      opt = options.find((o) => o.short !== undefined && o.short === a[1]);
      if (a.length > 2) inline = a.slice(2);
    }
    if (!opt) {
      const given = shown.slice(2);
      const near = a.startsWith('--') ? options.filter((o) => o.name.startsWith(given) || given.startsWith(o.name) || distance(o.name, given) <= 2) : [];
      fail(`unknown option '${shown}'${near.length === 1 ? ` (did you mean --${near[0]!.name}?)` : ''}`);
    }
    const o = opt!;
    if (o.value === undefined) {
      if (inline !== undefined) fail(`${shown} takes no value, got '${inline}'`);
      values[o.name] = true;
      continue;
    }
    let v = inline;
    if (v === undefined) {
      const next = args[i + 1];
      if (next === undefined) fail(`${shown} needs a value (${o.value})`);
      // `--data-file --json`: an option where the value should be is a forgotten value
      if (next!.startsWith('--') && next!.length > 2) fail(`${shown} needs a value (${o.value}), got the option '${next!}'`);
      v = next!;
      i++;
    }
    if (o.repeatable) {
      (lists[o.name] ??= []).push(v!);
      continue;
    }
    if (values[o.name] !== undefined) fail(`--${o.name} is given twice`);
    values[o.name] = v!;
  }
  const [min, max] = spec.positionals;
  if (positionals.length < min) {
    const missing = spec.args.slice(positionals.length, min).map(([n]) => n).join(' ');
    usage(`missing ${missing}`);
  }
  if (positionals.length > max) usage(`unexpected argument '${positionals[max]!}'`);
  return { values, lists, positionals, help: false };
}

/** The text of `tsbpf CMD --help`. */
export function help(spec: CommandSpec): string {
  const lines: string[] = [];
  spec.usage.forEach((u, i) => lines.push(`${i === 0 ? 'Usage: ' : '       '}tsbpf ${u}`));
  lines.push('', spec.summary);
  if (spec.args.length > 0) {
    lines.push('', 'Arguments:');
    const w = Math.max(...spec.args.map(([n]) => n.length));
    for (const [n, d] of spec.args) lines.push(...column(`  ${n.padEnd(w)}  `, d));
  }
  const opts = [...spec.options, HELP];
  const label = (o: OptionSpec): string => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
  const w = Math.max(...opts.map((o) => label(o).length));
  lines.push('', 'Options:');
  for (const o of opts) lines.push(...column(`  ${label(o).padEnd(w)}  `, o.help));
  lines.push('', spec.examples.length > 1 ? 'Examples:' : 'Example:');
  for (const e of spec.examples) lines.push(`  tsbpf ${e}`);
  if (spec.notes) lines.push('', spec.notes);
  return lines.join('\n') + '\n';
}

/** A description after its label, continuation lines indented under it. */
function column(label: string, text: string): string[] {
  const [first, ...rest] = text.split('\n');
  return [`${label}${first!}`, ...rest.map((l) => `${' '.repeat(label.length)}${l}`)];
}

/** Levenshtein distance, for `did you mean --json?` on a typo. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
