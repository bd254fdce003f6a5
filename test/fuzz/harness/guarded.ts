/**
 * Runs a fuzz target in a worker thread with a watchdog. A synchronous infinite loop cannot be interrupted from the
 * thread it runs on (no timer fires, Promise.race never settles), so the target runs elsewhere: this thread watches
 * a shared case counter and terminates the worker when one case runs longer than CASE_TIMEOUT_MS, and the worker's
 * heap is capped so unbounded memory growth fails too. Either way the failure names the input that caused it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CASE_TIMEOUT_MS, FUZZ_RUNS, FUZZ_SEED, WORKER_MEMORY_MB } from './config.js';
import type { FuzzFixture } from './target.js';
import { tsxWorker } from './tsx-worker.js';
import type { WorkerDone, WorkerJob } from './worker.js';

const INPUT_BYTES = 1 << 20;
const WORKER = join(import.meta.dirname, 'worker.ts');
export const FIXTURES_ROOT = join(import.meta.dirname, '../../fixtures/fuzz');

export interface GuardedResult {
  readonly numRuns: number;
  readonly seed?: number;
  readonly stats: Record<string, number>;
}

export interface GuardedOptions {
  readonly numRuns?: number;
  readonly seed?: number;
  readonly inputs?: readonly unknown[];
  readonly caseTimeoutMs?: number;
}

class FuzzFailure extends Error {
  override name = 'FuzzFailure';
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text);

function lastInput(buf: SharedArrayBuffer): string {
  const len = Atomics.load(new Int32Array(buf, 0, 1), 0);
  return clip(Buffer.from(new Uint8Array(buf, 4, Math.max(0, len))).toString('utf8'), 8000);
}

/** Fuzzes (or, with `inputs`, replays) the `target` exported by `targetModule`; throws a FuzzFailure on any bug. */
export function runGuarded(targetModule: string, options: GuardedOptions = {}): Promise<GuardedResult> {
  const progress = new SharedArrayBuffer(4);
  const inputBuffer = new SharedArrayBuffer(4 + INPUT_BYTES);
  const job: WorkerJob = {
    modulePath: pathToFileURL(targetModule).href,
    mode: options.inputs ? 'replay' : 'fuzz',
    numRuns: options.numRuns ?? FUZZ_RUNS,
    ...((options.seed ?? FUZZ_SEED) !== undefined ? { seed: options.seed ?? FUZZ_SEED } : {}),
    ...(options.inputs ? { inputs: options.inputs } : {}),
    progress,
    inputBuffer,
  };
  const caseTimeout = options.caseTimeoutMs ?? CASE_TIMEOUT_MS;
  const worker = tsxWorker(WORKER, {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_MEMORY_MB },
  });
  const counter = new Int32Array(progress);
  return new Promise<GuardedResult>((resolve, reject) => {
    let settled = false;
    let watchdog: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, value?: GuardedResult): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      if (err) reject(err);
      else resolve(value as GuardedResult);
    };
    worker.on('message', (m: { type: 'ready' } | WorkerDone) => {
      if (m.type === 'ready') {
        let seen = Atomics.load(counter, 0);
        let since = Date.now();
        watchdog = setInterval(() => {
          const now = Atomics.load(counter, 0);
          if (now !== seen) {
            seen = now;
            since = Date.now();
          } else if (Date.now() - since > (now === 0 ? caseTimeout * 6 : caseTimeout)) {
            // Case 0 also pays for the target's cold start (module loading, code tables) on a loaded machine.
            finish(new FuzzFailure(`case ${now} did not finish within ${caseTimeout} ms (hang or super-linear input, seed ${job.seed ?? 'random'}); input:\n${lastInput(inputBuffer)}`));
          }
        }, Math.min(250, caseTimeout / 4));
        return;
      }
      if (m.failed) finish(new FuzzFailure(`${clip(m.report ?? 'failed', 8000)}\ncounterexample (JSON): ${clip(m.counterexample ?? '(replay)', 8000)}`));
      else finish(undefined, { numRuns: m.numRuns, ...(m.seed !== undefined ? { seed: m.seed } : {}), stats: m.stats });
    });
    worker.on('error', (e) => {
      const oom = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(new FuzzFailure(`${oom ? `worker ran out of memory (${WORKER_MEMORY_MB} MB)` : `worker crashed: ${e.stack ?? e.message}`} at case ${Atomics.load(counter, 0)}; input:\n${lastInput(inputBuffer)}`));
    });
    worker.on('exit', (code) => finish(new FuzzFailure(`worker exited (code ${code}) before reporting; last input:\n${lastInput(inputBuffer)}`)));
  });
}

/** The stored crashers of a target (test/fixtures/fuzz/<name>/*.json). */
export function loadFixtures(name: string): FuzzFixture[] {
  const dir = join(FIXTURES_ROOT, name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const parsed = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<FuzzFixture>;
      if (typeof parsed.note !== 'string' || !('input' in parsed)) throw new Error(`${join(dir, f)} needs { "note": string, "input": ... }`);
      return { note: parsed.note, input: parsed.input };
    });
}
