/**
 * BpfError: the one error type every layer throws for bad input or a refused
 * operation. It speaks errno the way Node's fs errors do (`code: 'EINVAL'`,
 * `errno: -22`, `syscall: 'bpf'`). Internal invariant violations are not
 * BpfErrors: they throw InternalError and are bugs, never user-facing verdicts.
 */

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

export type ErrnoCode = keyof typeof ERRNO;

export interface BpfErrorOptions {
  /** the bpf() command name, e.g. 'BPF_PROG_LOAD' */
  command?: string;
  /** the verifier log of a rejected program */
  log?: string;
  cause?: unknown;
}

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

export function errnoName(errno: number): ErrnoCode | undefined {
  const n = Math.abs(errno);
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k as ErrnoCode;
  return undefined;
}
