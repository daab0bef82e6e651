/**
 * The kernel a CLI command models: `--profile 3.19|modern` (run, verify,
 * filter, disasm), or, without it, the one the program needs: modern for
 * the program types 3.19 does not have (xdp, sched_cls from an object's
 * `xdp` / `tc` / `classifier` section) and for objects with a map type 3.19
 * does not have (a per-CPU array, a ring buffer...), 3.19 otherwise, so a
 * 3.19 program's verdict and log stay the 3.19 kernel's. `--cpus N` is the
 * number of simulated CPUs (per-CPU maps hold N values). Also: whether this
 * build's verifier judges modern programs yet, so a refusal can say that
 * `--unverified` runs them meanwhile.
 */

import { BpfError } from '../errors.js';
import { BpfSystem } from '../api/bpf.js';
import { assemble } from '../isa/asm.js';
import { PROFILE_3_19, PROFILE_MODERN, findProfile } from '../progs/profile.js';
import type { Profile } from '../progs/profile.js';
import { findProgTypeByName } from '../progs/types.js';
import { findMapTypeByName } from '../maps/types.js';
import { introducedBy } from '../isa/profile.js';
import type { ProgramInput } from './input.js';
import { CliError } from './cli-error.js';
import { MAX_CPUS } from '../runtime/runtime.js';


/** Why `prog` needs the modern profile, or undefined when 3.19 has all it uses. */
export function modernReason(prog: ProgramInput): string | undefined {
  const type = findProgTypeByName(prog.progType);
  if (type && !introducedBy(type.since, PROFILE_3_19)) return `program type ${prog.progType}`;
  for (const m of prog.maps) {
    const t = findMapTypeByName(m.type);
    if (t && !introducedBy(t.since, PROFILE_3_19)) return `map type ${m.type}`;
  }
  return undefined;
}

/** The profile of a command: --profile when given (refused when the program needs more), else the one it needs. */
export function chooseProfile(prog: ProgramInput, option: unknown, file: string): Profile {
  const need = modernReason(prog);
  if (option === undefined) return need ? PROFILE_MODERN : PROFILE_3_19;
  const p = findProfile(option);
  if (!p) throw new CliError(`--profile must be 3.19 or modern, got '${String(option)}'`, 2, 'EINVAL');
  if (p === PROFILE_3_19 && need) throw new CliError(`${file}: ${need} needs --profile modern (it is not in Linux 3.19)`, 2, 'EINVAL');
  return p;
}

/** --cpus: 1 (the default) to the runtime's MAX_CPUS. */
export function cpusOption(v: unknown): number {
  if (v === undefined) return 1;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_CPUS) throw new CliError(`--cpus must be an integer from 1 to ${MAX_CPUS}, got '${s}'`, 2, 'EINVAL');
  return Number(s);
}

let modernVerifier: boolean | undefined;

/**
 * Whether this build verifies modern programs: an XDP program reading its
 * context (`r2 = *(u32 *)(r1 +0)`) is accepted by a verifier that knows
 * XDP's context and refused by 3.19's rules. Asked once.
 */
export function verifiesModern(): boolean {
  if (modernVerifier === undefined) {
    try {
      const sys = new BpfSystem({ profile: 'modern' });
      sys.bpf('BPF_PROG_LOAD', { prog_type: 6, insns: assemble('r2 = *(u32 *)(r1 +0)\nr0 = 2\nexit'), license: 'GPL' });
      modernVerifier = true;
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      modernVerifier = false;
    }
  }
  return modernVerifier;
}

/** The line a refusal of a modern program ends with while the verifier does not judge them. */
export const UNVERIFIED_HINT = "this build's verifier does not judge modern programs yet (it applies 3.19's rules): --unverified runs it in the checked interpreter";

const XDP_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_NAMES: Record<number, string> = { [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN', 5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT', 8: 'TC_ACT_TRAP' };

/**
 * The verdict an XDP or tc program's r0 names (its low 32 bits, as the
 * kernel reads the int the program returns), or undefined: another program
 * type, or a value with no name (the kernel treats an unknown XDP action
 * as an abort and an unknown tc one as TC_ACT_OK).
 */
export function verdictName(progType: string, r0: bigint | number): string | undefined {
  const v = Number(BigInt.asIntN(32, BigInt(r0)));
  if (progType === 'xdp') return XDP_NAMES[v];
  if (progType === 'sched_cls') return TC_NAMES[v];
  return undefined;
}

/** Whether a program type sees the whole Ethernet frame and may change it (XDP, tc): the frame after a run is output. */
export function framesOut(progType: string): boolean {
  return progType === 'xdp' || progType === 'sched_cls';
}
