/**
 * Time per verification of the modern profile (verifyModern in-process,
 * no log) for the diamond family of issue 16: 8 to 14 independent
 * diamonds whose sides write different stack slots, so that every path has
 * its own stack shape. `node dist/src/bench/verifier-modern.js` prints one
 * line per program: diamonds, instructions processed, milliseconds per
 * verification (the median of batches).
 */

import { assemble, toSlots } from '../isa/index.js';
import { PROFILE_MODERN } from '../progs/profile.js';
import { SOCKET_FILTER, verifierRules } from '../progs/types.js';
import { VerifierLog } from '../verifier/index.js';
import { verifyModern } from '../verifier/modern/index.js';

export function diamonds(n: number): string {
  const l = ['r2 = *(u32 *)(r1 +0)'];
  for (let k = 0; k < n; k++) l.push(`if r2 > ${k} goto pc+2`, `*(u64 *)(r10 -${16 * k + 8}) = 0`, 'goto pc+1', `*(u64 *)(r10 -${16 * k + 16}) = 0`);
  return [...l, 'r0 = 0', 'exit'].join('\n');
}

const env = { ...verifierRules(SOCKET_FILTER, PROFILE_MODERN), gplCompatible: true, mapAt: () => undefined, log: new VerifierLog(0, 0) };
for (let n = 8; n <= 14; n++) {
  const slots = toSlots(assemble(diamonds(n)));
  let processed = 0;
  for (let i = 0; i < 200; i++) {
    const r = verifyModern(slots, env);
    if (!r.ok) throw new Error(r.message);
    processed = r.insnProcessed;
  }
  const batches: number[] = [];
  for (let b = 0; b < 9; b++) {
    const runs = 100;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) verifyModern(slots, env);
    batches.push(Number(process.hrtime.bigint() - t0) / runs / 1e6);
  }
  batches.sort((a, b) => a - b);
  process.stdout.write(`${n} diamonds (${slots.length} insns): ${processed} processed, ${batches[4]!.toFixed(3)} ms per verification\n`);
}
