/**
 * Running the `tsbpf` command in tests. `tsbpf(args, input)` runs main() in
 * this process over captured streams, so a command costs no Node start-up;
 * `spawnTsbpf(args, input)` runs bin/tsbpf.js as a process of its own, for
 * what only a process shows: the bin entry and its exit code, a real stdin
 * pipe, a closed stdout pipe (EPIPE).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';

/** The compiled test lives in dist/test/; the bin entry in bin/. */
export const BIN = fileURLToPath(new URL('../../bin/tsbpf.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes (asm writes raw slots) */
  stdoutBytes: Uint8Array;
}

/** Run `tsbpf ARGS` in process, `input` on its standard input. */
export async function tsbpf(args: readonly string[], input: string | Uint8Array = ''): Promise<CliResult> {
  return tsbpfLive(args, input).done;
}

/**
 * Run `tsbpf ARGS` in process and watch its output as it is written.
 * `input` may be an async iterable of chunks: standard input then arrives
 * chunk by chunk, as from a pipe (a capture read from '-' is read that way).
 */
export function tsbpfLive(args: readonly string[], input: string | Uint8Array | AsyncIterable<Uint8Array> = ''): { done: Promise<CliResult>; stdout: () => string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const streamed = typeof input === 'object' && Symbol.asyncIterator in input;
  const bytes = streamed ? undefined : typeof input === 'string' ? new Uint8Array(Buffer.from(input)) : input as Uint8Array;
  const io: CliIo = {
    stdout: { write: (c) => out.push(Buffer.from(c)) },
    stderr: { write: (c) => err.push(Buffer.from(c)) },
    stdin: {
      readAll: () => bytes ?? assert.fail('readAll() of a streamed standard input'),
      stream: () => (streamed ? Readable.from(input as AsyncIterable<Uint8Array>) : Readable.from([Buffer.from(bytes!)])),
      chunks: () => (streamed ? input as AsyncIterable<Uint8Array> : (async function* () {
        yield bytes!;
      })()),
    },
  };
  const done = main(args, io).then((status) => {
    const stdoutBytes = new Uint8Array(Buffer.concat(out));
    return { status, stdout: Buffer.from(stdoutBytes).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes };
  });
  return { done, stdout: () => Buffer.concat(out).toString('utf8') };
}

/** Run bin/tsbpf.js ARGS as a process (no colours, no stack traces), `input` piped to its stdin. */
export function spawnTsbpf(args: readonly string[], input: string | Uint8Array = '', env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input,
    timeout: 60_000,
    env: { ...process.env, TSBPF_DEBUG: '', NO_COLOR: '1', ...env },
  });
  assert.equal(r.error, undefined, `tsbpf ${args.join(' ')} did not finish: ${String(r.error)}`);
  assert.equal(r.signal, null, `tsbpf ${args.join(' ')} was killed by ${String(r.signal)}`);
  return { status: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), stdoutBytes: new Uint8Array(r.stdout) };
}
