/**
 * `tsbpf/node`: what needs Node's file system, kept out of the main entry so
 * that `tsbpf` itself imports nothing of Node and bundles for a browser.
 * Reading a capture by path (chunk by chunk) and reading an object file by
 * path into a CollectionSpec; WorkerPool, a capture run on worker threads
 * (worker_threads); everything else is the main entry's, which takes bytes
 * and streams.
 */
import { readFileSync } from 'node:fs';
import { BpfError, ERRNO } from './errors.js';
import type { ErrnoCode } from './errors.js';
import { loadCollectionSpec } from './loader/collection.js';
import type { CollectionSpec } from './loader/spec.js';

export { readCaptureFile } from './pcap/file.js';
export type { ReadOptions } from './pcap/file.js';
export { WorkerPool, PoolPacketError, SharedCapture, indexCapture, defaultWorkers, POOL_MIN_BYTES, MAX_WORKERS, INDEX_WORDS } from './api/pool.js';
export type { WorkerPoolOptions, PoolCaptureResult } from './api/pool.js';
export type { SteerMode } from './api/steer.js';

/**
 * Read a clang-compiled object file by path into a CollectionSpec (see
 * loadCollectionSpec). A file that cannot be read is a BpfError with the
 * errno of Node's error (ENOENT, EACCES...) naming the path.
 */
export function loadCollectionSpecFile(path: string): CollectionSpec {
  if (typeof path !== 'string') throw new BpfError('EINVAL', 'object: the path is not a string');
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code: ErrnoCode = typeof err?.code === 'string' && err.code in ERRNO ? (err.code as ErrnoCode) : 'EINVAL';
    throw new BpfError(code, `${path}: ${err?.message ?? String(e)}`, { cause: e });
  }
  try {
    return loadCollectionSpec(bytes);
  } catch (e) {
    if (e instanceof BpfError) throw e.withContext(path);
    throw e;
  }
}
