/**
 * Whole verifier logs as baselines: each test/verifier/*.txt holds a
 * program, how it is loaded, the expected verdict (accept, or the errno and
 * the BpfError message) and the expected log byte for byte (format in
 * test/verifier/README.md). The logs were derived by hand from the 3.19
 * algorithm and log format of ../shared/docs/linux-3.19/verifier.md.
 *
 * UPDATE_BASELINES=1 rewrites each file's result and log with what the
 * verifier now says (the header and program are kept as written); review
 * the change with git diff before committing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError } from '../src/errors.js';
import { BpfSystem } from '../src/api/bpf.js';
import { assemble, encode } from '../src/isa/index.js';
import { projectRoot } from './conformance-data.js';

const DIR = join(projectRoot(), 'test', 'verifier');
const UPDATE = process.env['UPDATE_BASELINES'] === '1';

interface Baseline {
  title: string;
  /** the file up to its `-- result` line, kept verbatim when the baseline is rewritten */
  head: string;
  progType: number;
  logLevel: number;
  license: string;
  maps: { map_type: number; key_size: number; value_size: number; max_entries: number }[];
  asm: string;
  result: string;
  log: string;
}

function parse(file: string, text: string): Baseline {
  const bad = (why: string): never => {
    throw new Error(`${file}: ${why}`);
  };
  const at = (name: string): number => {
    const i = text.indexOf(`\n-- ${name}\n`);
    return i < 0 ? bad(`no '-- ${name}' section`) : i + 1;
  };
  const resultAt = at('result');
  const logAt = at('log');
  if (logAt < resultAt) bad("'-- log' must come after '-- result'");
  const head = text.slice(0, resultAt);
  const title = /^# (.*)\n/.exec(head)?.[1] ?? bad('no title line (# ...) first');
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of head.split('\n').slice(1)) {
    const m = /^-- (\w+)$/.exec(line);
    if (m) sections.set(m[1]!, (current = []));
    else if (current) current.push(line);
    else if (line !== '') bad(`text before the first section: ${line}`);
  }
  const b: Baseline = {
    title, head, progType: 0, logLevel: 1, license: 'GPL', maps: [],
    asm: (sections.get('asm') ?? bad("no '-- asm' section")).join('\n'),
    result: text.slice(resultAt + '-- result\n'.length, logAt).trimEnd(),
    log: text.slice(logAt + '-- log\n'.length),
  };
  for (const line of sections.get('load') ?? []) {
    if (line === '') continue;
    const words = line.split(' ');
    const num = (i: number): number => (/^\d+$/.test(words[i] ?? '') ? Number(words[i]) : bad(`not a number in '${line}'`));
    if (words[0] === 'map_type' && words.length === 8 && words[2] === 'key_size' && words[4] === 'value_size' && words[6] === 'max_entries') {
      b.maps.push({ map_type: num(1), key_size: num(3), value_size: num(5), max_entries: num(7) });
    } else if (words[0] === 'prog_type' && words.length === 2) b.progType = num(1);
    else if (words[0] === 'log_level' && words.length === 2) b.logLevel = num(1);
    else if (words[0] === 'license' && words.length === 2) b.license = words[1]!;
    else bad(`unknown load line '${line}'`);
  }
  return b;
}

/** Load as BPF_PROG_LOAD does, with a 4 MiB log: the verdict line and the log, map addresses as {addrN}. */
function run(b: Baseline): { result: string; log: string } {
  const sys = new BpfSystem();
  const fds = b.maps.map((m) => sys.bpf('BPF_MAP_CREATE', m));
  const asm = b.asm.replace(/\{fd(\d+)\}/g, (_m, i: string) => String(fds[Number(i)] ?? -1));
  const logSize = 1 << 22;
  let result: string;
  let log: string;
  try {
    const fd = sys.bpf('BPF_PROG_LOAD', {
      prog_type: b.progType, insns: encode(assemble(asm)), license: b.license,
      log_level: b.logLevel, log_size: logSize, log_buf: new Uint8Array(logSize),
    });
    result = 'accept';
    log = sys.progOf(fd).prog.log;
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    result = `${e.code} ${e.message}`;
    log = e.log ?? '';
  }
  fds.forEach((fd, i) => {
    const hex = (sys.mapOf(fd).impl.addr >>> 0).toString(16);
    log = log.replace(new RegExp(`0x${hex}(?![0-9a-f])`, 'g'), `0x{addr${i}}`);
  });
  return { result, log };
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.txt')).sort();

test('the baselines are there', () => {
  assert.equal(files.length, 21);
});

for (const file of files) {
  const path = join(DIR, file);
  const b = parse(file, readFileSync(path, 'utf8'));
  test(`${b.title} (${file})`, () => {
    const actual = run(b);
    if (UPDATE) {
      writeFileSync(path, `${b.head}-- result\n${actual.result}\n-- log\n${actual.log}`);
      return;
    }
    const hint = `\n(UPDATE_BASELINES=1 rewrites test/verifier/${file}; review its git diff)`;
    assert.equal(actual.result, b.result, `verdict${hint}`);
    assert.equal(actual.log, b.log, `log${hint}`);
  });
}
