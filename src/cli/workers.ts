/**
 * `--workers N` and `--steer` of `run --pcap` and `filter`: how many worker
 * threads run a capture, how they share its packets, and the pooled run itself (the API's WorkerPool over a system
 * made with a shared memory). This file owns the choice: an explicit N is
 * checked against what the program and its input allow (one clear line,
 * exit 2, when they do not), and without the option the capture's size
 * decides (every core from POOL_MIN_BYTES, else 1) among programs that can
 * run on several threads; the others quietly use 1. capture.ts prints the
 * results, in capture order, exactly as for one thread.
 */

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BpfError } from '../errors.js';
import type { BpfSystem, EngineName } from '../api/bpf.js';
import { MAX_WORKERS, WorkerPool, defaultWorkers, indexCapture } from '../api/pool.js';
import type { PoolCaptureResult, SharedCapture } from '../api/pool.js';
import type { SteerMode } from '../api/steer.js';
import { findMapTypeByName, isShareable } from '../maps/types.js';
import type { ProgramInput } from './input.js';
import { CliError, fileError } from './cli-error.js';
import type { CliIo } from './io.js';

/** --workers: an integer from 1 to MAX_WORKERS, or undefined when not given. */
export function workersOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_WORKERS) throw new CliError(`--workers must be an integer from 1 to ${MAX_WORKERS}, got '${s}'`, 2, 'EINVAL');
  return Number(s);
}

/** --steer: 'flow' or 'chunk', or undefined when not given. */
export function steerOption(v: unknown): SteerMode | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s !== 'flow' && s !== 'chunk') throw new CliError(`--steer must be flow or chunk, got '${s}'`, 2, 'EINVAL');
  return s;
}

/** What decides the number of workers of a capture run. */
export interface WorkersChoice {
  /** --workers, if given */
  given: number | undefined;
  /** the capture's path ('-': standard input) */
  capture: string;
  /** the program's file, for messages */
  file: string;
  unverified: boolean;
}

/**
 * The workers to run `prog` over the capture with: --workers N when the
 * program can run on N threads (ENOTSUP, exit 2, naming why not), else 1;
 * without --workers, defaultWorkers of the capture's size for a program that
 * can (standard input, whose size is unknown, gets 1).
 */
export function chooseWorkers(prog: ProgramInput, c: WorkersChoice): number {
  const why = whyOneThread(prog, c.unverified);
  if (c.given !== undefined) {
    if (c.given > 1 && why !== undefined) throw new CliError(`${c.file}: --workers ${c.given}: ${why}`, 2, 'ENOTSUP');
    return c.given;
  }
  if (why !== undefined || c.capture === '-') return 1;
  let size: number;
  try {
    size = statSync(c.capture).size;
  } catch {
    // the capture's own error comes when it is read
    return 1;
  }
  return defaultWorkers(size, availableParallelism());
}

/** Why the program must run on one thread, or undefined when it may run on several. */
function whyOneThread(prog: ProgramInput, unverified: boolean): string | undefined {
  // an unverified program may fault: the capture stops at the packet that faulted, which only one thread can do
  if (unverified) return 'an unverified program runs on one thread (a fault must stop the capture at its packet)';
  for (const [i, m] of prog.maps.entries()) {
    const t = findMapTypeByName(m.type);
    if (t === undefined || !isShareable(t.id)) return `map '${m.name ?? `map${i}`}' (${m.type}) cannot be shared between worker threads`;
  }
  return undefined;
}

/**
 * A capture's bytes in a SharedArrayBuffer, read once: the file at its size
 * (what the workers read their packets from), or standard input whole.
 */
export function readSharedCapture(path: string, io: CliIo): Uint8Array {
  if (path === '-') {
    const bytes = io.stdin.readAll();
    const out = new Uint8Array(new SharedArrayBuffer(bytes.length));
    out.set(bytes);
    return out;
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new CliError(`${path}: is a directory`, 2, 'EISDIR');
    const out = new Uint8Array(new SharedArrayBuffer(st.size));
    let at = 0;
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === out.length ? out : out.subarray(0, at);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw fileError(path, e);
  } finally {
    closeSync(fd);
  }
}

/** A pooled run's results, with its timings. */
export interface PooledRun {
  result: PoolCaptureResult;
  capture: SharedCapture;
  /** ms from the start to every worker ready (their start-up overlaps reading the capture) */
  startMs: number;
  /** ms the runs took (all workers, wall) */
  runMs: number;
  /** ms from the start to the results, reading the capture included */
  wallMs: number;
}

/**
 * Run the loaded program over the capture on `workers` threads: the pool
 * starts while the capture is read and indexed, then runs it.
 */
export async function runPooled(
  sys: BpfSystem, progFd: number, captureFile: string, io: CliIo, workers: number, engine: EngineName | undefined, frames: boolean, steer: SteerMode | undefined,
): Promise<PooledRun> {
  const t0 = performance.now();
  const starting = WorkerPool.create({ sys, object: sys.progOf(progFd) }, { workers, ...(engine ? { engine } : {}), ...(steer ? { steer } : {}) });
  // a rejection before it is awaited must not be unhandled
  starting.catch(() => undefined);
  let capture: SharedCapture;
  try {
    capture = indexCapture(readSharedCapture(captureFile, io));
  } catch (e) {
    void starting.then((p) => p.close(), () => undefined);
    // not a capture at all: the error alone, as the one-thread path says it
    if (e instanceof BpfError) throw new CliError(`${captureFile}: ${e.message.replace(/^capture: /, '')}`, 2, e.code);
    throw e;
  }
  const pool = await starting;
  try {
    const startMs = performance.now() - t0;
    const result = await pool.runCapture(capture, { frames });
    return { result, capture, startMs, runMs: result.runMs, wallMs: performance.now() - t0 };
  } finally {
    await pool.close();
  }
}

/** A worker's BpfError as the CLI's error line. */
export function pooledError(file: string, e: unknown): unknown {
  return e instanceof BpfError ? new CliError(`${file}: ${e.message}`, 1, e.code) : e;
}
