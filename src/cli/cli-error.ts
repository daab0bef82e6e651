/** A CLI failure with its exit status; main.ts prints its message as one line. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, readonly errno?: string) {
    super(message);
  }
}

/** A failed file operation as one CLI line: `PATH: no such file (ENOENT)`, `PATH: is a directory (EISDIR)`. */
export function fileError(path: string, e: unknown, status = 2): CliError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
  return new CliError(`${path}: ${why}`, status, err.code ?? 'EIO');
}
