/**
 * The filter compiler against tcpdump: for every expression, our program
 * and `tcpdump -dd`'s must give the same verdict on every generated frame
 * (both run in the reference classic interpreter, so the comparison is
 * exact and needs no kernel), and an expression tcpdump refuses must be
 * refused. Ethernet over ~200 expressions, then raw IP, IPv4, IPv6, SLL,
 * SLL2, null and loopback. Instruction counts are summed to the ratio the
 * issue targets (<= 1.2 of libpcap's optimised output on average).
 * Skips with its reason where tcpdump is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';
import { compileFilter, runClassic } from '../src/filter/index.js';
import { parseDd } from '../src/cbpf/parse.js';
import type { SockFilter } from '../src/cbpf/parse.js';
import { BpfError } from '../src/errors.js';
import { writePcap } from '../src/pcap/index.js';
import { ETHER_EXPRS, LINK_EXPRS } from './filter-exprs.js';
import { etherFrames, linkFrames } from './filter-frames.js';

const TCPDUMP = spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = TCPDUMP ? false : 'tcpdump is not installed (apt-get install tcpdump)';

const dir = tempDir('tsbpf-filter-');

/** tcpdump's program for expr on an (empty) capture of the link type, or its error line. */
export function tcpdumpProgram(expr: string, linktype: number): SockFilter[] | string {
  const file = join(dir, `lt${linktype}.pcap`);
  writeFileSync(file, writePcap([], linktype, { snaplen: 262144 }));
  try {
    const out = execFileSync('tcpdump', ['-r', file, '-dd', '--', expr], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return parseDd(out);
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n').pop()!;
  }
}

/**
 * Known differences, each on a truncated frame: a load past the end ends a
 * classic program with 0, so where two programs test the same things in a
 * different order, a frame cut short between the two loads gets different
 * verdicts. None are left since the optimiser pulls tests up or-chains as
 * libpcap's does (`host a or b` tested src == a, dst == a, src == b before:
 * an ARP frame from b cut inside its target address differed); a new one
 * would be listed here with its reason.
 */
const KNOWN_TRUNCATED: string[] = [];

function compare(exprs: readonly string[], linktype: number, frames: Uint8Array[], known: readonly string[] = []): { mine: number; theirs: number; compared: number } {
  const problems: string[] = [];
  let mine = 0;
  let theirs = 0;
  let compared = 0;
  for (const expr of exprs) {
    const ref = tcpdumpProgram(expr, linktype);
    let ours: SockFilter[] | BpfError;
    try {
      ours = compileFilter(expr, linktype);
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      ours = e;
    }
    if (typeof ref === 'string') {
      if (!(ours instanceof BpfError)) problems.push(`${expr}: tcpdump refuses it (${ref}), we compiled it`);
      continue;
    }
    if (ours instanceof BpfError) {
      problems.push(`${expr}: tcpdump compiles it, we refuse it: ${ours.message}`);
      continue;
    }
    compared++;
    mine += ours.length;
    theirs += ref.length;
    const bad = frames.findIndex((f) => runClassic(ours as SockFilter[], f) !== runClassic(ref, f));
    if (bad !== -1) problems.push(`${expr}: frame ${bad} (${Buffer.from(frames[bad]!).toString('hex')}): ours ${runClassic(ours, frames[bad]!)}, tcpdump ${runClassic(ref, frames[bad]!)}`);
  }
  assert.deepEqual(problems, known);
  return { mine, theirs, compared };
}

test('Ethernet: the verdicts of every expression equal tcpdump -dd\'s on 600 frames, and the programs are at most 1.2x as long', { skip: SKIP }, (t) => {
  const frames = etherFrames(600, 7);
  const r = compare(ETHER_EXPRS, 1, frames, KNOWN_TRUNCATED);
  assert.ok(r.compared >= 150, `compared ${r.compared} expressions`);
  const ratio = r.mine / r.theirs;
  t.diagnostic(`ethernet: ${r.compared} expressions, ${r.mine} instructions against tcpdump's ${r.theirs}: ratio ${ratio.toFixed(3)}`);
  assert.ok(ratio <= 1.2, `ratio ${ratio}`);
});

for (const [linktype, name] of [[101, 'raw'], [228, 'ipv4'], [229, 'ipv6'], [113, 'linux_sll'], [276, 'linux_sll2'], [0, 'null'], [108, 'loop']] as const) {
  test(`${name}: the verdicts equal tcpdump's, and what tcpdump refuses is refused`, { skip: SKIP }, (t) => {
    const r = compare(LINK_EXPRS, linktype, linkFrames(linktype, 300, linktype + 3));
    t.diagnostic(`${name}: ${r.compared} expressions, ${r.mine} instructions against ${r.theirs}`);
    assert.ok(r.compared >= 10);
  });
}
