/**
 * Reading a capture file by path, chunk by chunk: the one part of pcap/ that
 * needs Node (node:fs). It is kept out of pcap/index.ts, so the package's
 * main entry imports nothing of Node; `tsbpf/node` and the CLI import it.
 */
import { createReadStream } from 'node:fs';
import { BpfError, ERRNO } from '../errors.js';
import type { ErrnoCode } from '../errors.js';
import { CaptureStream } from './reader.js';

/** Options of readCaptureFile. */
export interface ReadOptions {
  /** Bytes per read from the file; default 1 MiB. */
  chunkSize?: number;
}

const DEFAULT_CHUNK = 1024 * 1024;

/**
 * Reads a pcap or pcapng file by path, chunkSize bytes at a time, in bounded
 * memory. The file is closed when the iteration ends, breaks or fails; I/O
 * errors become BpfErrors with the errno of Node's error (ENOENT, EACCES...).
 */
export function readCaptureFile(path: string, options: ReadOptions = {}): CaptureStream {
  if (typeof path !== 'string') throw new BpfError('EINVAL', 'capture: the path is not a string');
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new BpfError('EINVAL', `capture: chunk size ${String(chunkSize)} is not a positive integer`);
  }
  return new CaptureStream(() => fileChunks(path, chunkSize)[Symbol.asyncIterator]());
}

async function* fileChunks(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(path, { highWaterMark: chunkSize });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // A plain Uint8Array view, so packets compare equal to ones built by hand.
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  } catch (e) {
    throw ioError(path, e);
  } finally {
    stream.destroy();
  }
}

function ioError(path: string, e: unknown): BpfError {
  const err = e as NodeJS.ErrnoException;
  const code: ErrnoCode = typeof err?.code === 'string' && err.code in ERRNO ? (err.code as ErrnoCode) : 'EINVAL';
  return new BpfError(code, `capture: ${path}: ${err?.message ?? String(e)}`, { cause: e });
}
