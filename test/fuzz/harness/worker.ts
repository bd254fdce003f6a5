/**
 * Runs one fuzz target inside a worker thread (see guarded.ts). Before each case it publishes the case number and
 * the input (JSON) in shared memory, so the parent can name the input that hung or ran out of memory even though
 * this thread is stuck or dead.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import type { FuzzTarget } from './target.js';

export interface WorkerJob {
  readonly modulePath: string;
  readonly mode: 'fuzz' | 'replay';
  readonly numRuns: number;
  readonly seed?: number;
  /** Inputs to replay (mode replay). */
  readonly inputs?: readonly unknown[];
  readonly progress: SharedArrayBuffer;
  readonly inputBuffer: SharedArrayBuffer;
}

export interface WorkerDone {
  readonly type: 'done';
  readonly failed: boolean;
  readonly report?: string;
  readonly counterexample?: string;
  readonly numRuns: number;
  readonly seed?: number;
  readonly stats: Record<string, number>;
}

const job = workerData as WorkerJob;
const port = parentPort;
if (!port) throw new Error('fuzz worker must run in a worker thread');

const counter = new Int32Array(job.progress);
const length = new Int32Array(job.inputBuffer, 0, 1);
const bytes = new Uint8Array(job.inputBuffer, 4);
const encoder = new TextEncoder();

function record(input: unknown): void {
  const text = JSON.stringify(input) ?? 'undefined';
  const { written } = encoder.encodeInto(text, bytes);
  Atomics.store(length, 0, written);
  Atomics.add(counter, 0, 1);
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : `error: ${String(e)}`;
}

const mod = (await import(job.modulePath)) as { target: FuzzTarget<unknown> };
const target = mod.target;
await target.setup?.();
port.postMessage({ type: 'ready' });

let done: WorkerDone;
if (job.mode === 'replay') {
  const failures: string[] = [];
  for (const [i, input] of (job.inputs ?? []).entries()) {
    record(input);
    try {
      await target.check(input);
    } catch (e) {
      failures.push(`fixture ${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  done = { type: 'done', failed: failures.length > 0, report: failures.join('\n'), numRuns: job.inputs?.length ?? 0, stats: target.stats?.() ?? {} };
} else {
  const arb = target.arbitrary();
  const property = target.async
    ? fc.asyncProperty(arb, async (input) => {
        record(input);
        await target.check(input);
      })
    : fc.property(arb, (input) => {
        record(input);
        return target.check(input) as void;
      });
  const result = await fc.check(property, { numRuns: job.numRuns, ...(job.seed !== undefined ? { seed: job.seed } : {}) });
  done = {
    type: 'done',
    failed: result.failed,
    ...(result.failed ? { report: `${fc.defaultReportMessage(result) ?? 'failed'}\n${describe(result.errorInstance)}`, counterexample: JSON.stringify(result.counterexample?.[0]) } : {}),
    numRuns: result.numRuns,
    seed: result.seed,
    stats: target.stats?.() ?? {},
  };
}
await target.teardown?.();
port.postMessage(done);
