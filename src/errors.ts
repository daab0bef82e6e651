/**
 * BpfError: the one error type every layer throws for bad input or a refused
 * operation. It speaks errno the way Node's fs errors do (`code: 'EINVAL'`,
 * `errno: -22`, `syscall: 'bpf'`). VerifierError is the BpfError of a
 * program BPF_PROG_LOAD rejected in bpf_check, with its log and the failing
 * instruction. Internal invariant violations are not BpfErrors: they throw
 * InternalError and are bugs, never user-facing verdicts.
 */

/** The errno codes tsbpf reports, with their Linux numbers. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOTSUP: 95,
  /** the kernel-internal ENOTSUPP that bpf(2) lets through (ringbuf element ops, lru + BPF_F_NO_PREALLOC) */
  ENOTSUPP: 524,
} as const;

/** An errno name: 'EINVAL', 'EACCES', ... */
export type ErrnoCode = keyof typeof ERRNO;

/** What a BpfError may carry besides its code and message. */
export interface BpfErrorOptions {
  /** the bpf() command name, e.g. 'BPF_PROG_LOAD' */
  command?: string;
  /** the verifier log of a rejected program */
  log?: string;
  cause?: unknown;
}

/**
 * A refused bpf() command or bad input: `code` is the errno name, `errno`
 * its negated number, `message` one line saying what was wrong.
 */
export class BpfError extends Error {
  readonly code: ErrnoCode;
  readonly errno: number;
  readonly syscall = 'bpf';
  readonly command?: string;
  readonly log?: string;

  constructor(code: ErrnoCode, message: string, options: BpfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BpfError';
    this.code = code;
    this.errno = -ERRNO[code];
    if (options.command !== undefined) this.command = options.command;
    if (options.log !== undefined) this.log = options.log;
  }

  /** The same error with a lower-case context prefix added, cilium/ebpf style. */
  withContext(context: string): BpfError {
    const e = new BpfError(this.code, `${context}: ${this.message}`, {
      command: this.command,
      log: this.log,
      cause: this,
    });
    return e;
  }
}

/** What a VerifierError carries besides its code and message. */
export interface VerifierErrorOptions {
  command?: string;
  /** the index of the instruction slot the load was rejected at, when there is one */
  insn?: number;
  /** the log did not fit its buffer and ends early */
  truncated?: boolean;
  cause?: unknown;
}

/**
 * A program rejected inside bpf_check: by the verifier, or by the map-fd
 * and ld_imm64 checks that share its log. `log` is the verifier's log
 * (Program.load and Collection load again with a log when none was asked
 * for, so theirs is never empty); `insn` the index of the instruction slot
 * at fault, when the rejection names one. As cilium/ebpf's VerifierError.
 */
export class VerifierError extends BpfError {
  declare readonly log: string;
  /** the instruction slot the load was rejected at; undefined when the verdict is about the whole program */
  readonly insn: number | undefined;
  /** true when the log was cut short by its buffer */
  readonly truncated: boolean;

  constructor(code: ErrnoCode, message: string, log: string, options: VerifierErrorOptions = {}) {
    super(code, message, { command: options.command, log, cause: options.cause });
    this.name = 'VerifierError';
    this.insn = options.insn;
    this.truncated = options.truncated ?? false;
  }

  /** The same error, log and instruction, with a context prefix. */
  override withContext(context: string): VerifierError {
    return new VerifierError(this.code, `${context}: ${this.message}`, this.log, { command: this.command, insn: this.insn, truncated: this.truncated, cause: this });
  }
}

/** A broken internal invariant: a bug in tsbpf, never a verdict on user input. */
export class InternalError extends Error {
  constructor(message: string) {
    super(`internal error: ${message}`);
    this.name = 'InternalError';
  }
}

/** Exhaustiveness over a union: `default: assertNever(x)` fails to compile when a member has no case. */
export function assertNever(x: never): never {
  throw new InternalError(`unexpected value ${String(x)}`);
}

/** The errno name of a number (either sign), or undefined for one tsbpf does not use. */
export function errnoName(errno: number): ErrnoCode | undefined {
  const n = Math.abs(errno);
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k as ErrnoCode;
  return undefined;
}
