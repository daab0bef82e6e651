/**
 * The CLI's standard streams, passed to main() rather than taken from
 * `process`, so the command runs in process (tests, a program embedding it)
 * as well as in the `tsbpf` process, where bin/tsbpf.js passes processIo().
 * Only main.ts and the command files use them; the library never prints.
 */

import { readFileSync } from 'node:fs';

/** Standard output or error. */
export interface CliOutput {
  write(chunk: string | Uint8Array): unknown;
  /** a terminal: colours (style.ts), a progress bar, hex instead of raw bytes */
  readonly isTTY?: boolean;
}

/** Standard input. */
export interface CliInput {
  /** all of it at once: PROG or a data file given as '-', the conformance plugin's program */
  readAll(): Uint8Array;
  /** as a stream, line by line: the shell */
  stream(): NodeJS.ReadableStream;
  /**
   * as chunks, each as soon as it arrives: a capture read from '-' (filter,
   * run --pcap), so that a live pipe's packets are handled as they come.
   * Absent: readAll() is used, at once.
   */
  chunks?(): AsyncIterable<Uint8Array>;
  /** a terminal: the shell prompts */
  readonly isTTY?: boolean;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
  stdin: CliInput;
}

/** The process's own streams. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: {
      readAll: () => new Uint8Array(readFileSync(0)),
      stream: () => process.stdin,
      chunks: () => stdinChunks(),
      get isTTY() {
        return process.stdin.isTTY === true;
      },
    },
  };
}

async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  for await (const c of process.stdin as AsyncIterable<Buffer>) yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}
