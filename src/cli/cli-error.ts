/** A CLI failure with its exit status; main.ts prints its message as one line. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, readonly errno?: string) {
    super(message);
  }
}
