import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueEvents, type Job, type Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { FhirfedError } from '../../src/core/errors.js';
import {
  closeTrainingWorker,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTrainingJob,
  getQueueState,
  initTrainingWorker,
  TRAINING_QUEUE,
  type TrainingQueueState,
  type TrainingUpdate,
  type TrainingWorkerHandle,
} from '../../src/training/queue.js';
import type { RowSource, TrainingRow } from '../../src/training/types.js';
import { deletePrefix, randomPrefix, REDIS_URL, waitFor } from './fixtures/redis.js';
import { SPECS, syntheticRows } from './fixtures/synthetic.js';

const HYPER = { model: 'mlp' as const, hidden: [6], epochs: 3, batchSize: 64, patience: 10 };
const ROWS = syntheticRows({ n: 160, missingAdverse: 0.2 });

let prefix: string;
let handles: TrainingWorkerHandle[];
let extra: { close(): Promise<unknown> }[];

beforeEach(() => {
  prefix = randomPrefix();
  handles = [];
  extra = [];
});

afterEach(async () => {
  for (const h of handles) await h.close();
  for (const c of extra) await c.close();
  await deletePrefix(prefix);
});

function startWorker(over: { rowSource?: RowSource; onUpdate?: (u: TrainingUpdate) => Promise<void> | void; stalledInterval?: number } = {}) {
  const updates: TrainingUpdate[] = [];
  const h = createTrainingWorker({
    connection: REDIS_URL,
    prefix,
    site: 'site-a',
    specs: SPECS,
    rowSource: over.rowSource ?? { loadRows: async () => ROWS },
    onUpdate: async (u) => {
      await over.onUpdate?.(u);
      updates.push(u);
    },
    ...(over.stalledInterval ? { workerOptions: { stalledInterval: over.stalledInterval } } : {}),
  });
  handles.push(h);
  return { h, queue: h.queue, updates };
}

async function settled(queue: Queue, id: string): Promise<Job> {
  // Read the job only after its state is final, so returnvalue/failedReason are already written.
  return waitFor(async () => {
    const state = await queue.getJobState(id);
    return state === 'completed' || state === 'failed' ? queue.getJob(id) : undefined;
  }, `job ${id} to finish`);
}

describe('training queue', () => {
  it('runs a job end to end: one update, metrics, progress visible while active', async () => {
    const events = new QueueEvents(TRAINING_QUEUE, { connection: { url: REDIS_URL }, prefix });
    extra.push(events);
    await events.waitUntilReady();
    const progress: unknown[] = [];
    events.on('progress', ({ data }) => void progress.push(data));
    let during: TrainingQueueState | undefined;
    const { queue, updates } = startWorker({ onUpdate: async () => void (during = await getQueueState(handles[0]!.queue)) });

    const job = await enqueueTrainingJob(queue, { task: 'dr', round: 0, globalModelVersion: 'v0', hyper: HYPER });
    expect(job.id).toBe('dr@0');
    const done = await settled(queue, 'dr@0');
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toMatchObject({ status: 'submitted', epochs: 3, backend: expect.any(String) });
    expect(Object.keys(done.returnvalue.metrics)).toEqual(['drug_response', 'adverse_event']);
    expect(updates).toHaveLength(1);
    const u = updates[0]!;
    expect(u).toMatchObject({ site: 'site-a', task: 'dr', round: 0, globalModelVersion: 'v0', epochs: 3 });
    expect(u.delta).toBeInstanceOf(Float32Array);
    expect(u.numSamples).toBeGreaterThan(100);
    expect(during?.counts.active).toBe(1);
    expect(during?.active[0]).toMatchObject({ id: 'dr@0', task: 'dr', round: 0, progress: { epoch: 3 } });
    await waitFor(async () => (progress.length >= 3 ? true : undefined), 'progress events');
    expect(progress.slice(0, 3).map((p) => (p as { epoch: number }).epoch)).toEqual([1, 2, 3]);
    expect((progress[0] as { loss: number }).loss).toBeGreaterThan(0);
    const after = await getQueueState(queue);
    expect(after.counts.completed).toBe(1);
    expect(after.counts.active).toBe(0);
  });

  it('never submits twice for a duplicated (task, round), even after the first job is removed', async () => {
    const { queue, updates } = startWorker();
    const data = { task: 'dr', round: 4, globalModelVersion: 'v3', hyper: HYPER };
    const [a, b] = await Promise.all([enqueueTrainingJob(queue, data), enqueueTrainingJob(queue, data)]);
    expect(a.id).toBe(b.id);
    const first = await settled(queue, 'dr@4');
    expect(first.returnvalue.status).toBe('submitted');
    await first.remove();
    await enqueueTrainingJob(queue, data);
    const second = await settled(queue, 'dr@4');
    expect(second.returnvalue).toEqual({ status: 'duplicate' });
    expect(updates).toHaveLength(1);
  });

  it('retries transient faults with backoff and still submits exactly one update', async () => {
    let loads = 0;
    let submits = 0;
    const { queue, updates } = startWorker({
      rowSource: {
        loadRows: async () => {
          if (++loads === 1) throw new Error('feature store briefly unavailable');
          return ROWS;
        },
      },
      onUpdate: () => {
        if (++submits === 1) throw new Error('aggregator connection reset');
      },
    });
    await enqueueTrainingJob(queue, { task: 'ae', round: 1, globalModelVersion: 'v1', hyper: HYPER });
    const job = await settled(queue, 'ae@1');
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    expect(updates).toHaveLength(1);
  });

  it('fails a job with rows of the wrong width once, with the reason, without retrying', async () => {
    const bad: TrainingRow[] = ROWS.map((r, i) => (i === 7 ? { key: r.key, values: { ...r.values, extra: 1 } } : r));
    const { queue, updates } = startWorker({ rowSource: { loadRows: async () => bad } });
    await enqueueTrainingJob(queue, { task: 'dr', round: 2, globalModelVersion: 'v1', hyper: HYPER });
    const job = await settled(queue, 'dr@2');
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsStarted).toBe(1); // started once, never retried
    expect(job.failedReason).toMatch(/FHIRFED_ERR_VALIDATION.*1 of 160 training rows do not match the feature schema/);
    expect(job.failedReason).toMatch(/rows\[7\]\.values\.extra: 'extra' is not in the feature schema/);
    expect(updates).toHaveLength(0);
    const state = await getQueueState(queue);
    expect(state.recentFailures[0]?.reason).toMatch(/do not match the feature schema/);
  });

  it('refuses invalid job data at enqueue time and fails it unrecoverably if it gets in anyway', async () => {
    const { queue, updates } = startWorker();
    await expect(enqueueTrainingJob(queue, { task: 'a:b', round: -1, globalModelVersion: '' })).rejects.toThrow(FhirfedError);
    await queue.add('train', { task: 'x', round: 'one' }, { jobId: 'raw-1' });
    const job = await settled(queue, 'raw-1');
    expect(job.attemptsStarted).toBe(1); // started once, never retried
    expect(job.failedReason).toMatch(/invalid training job data[\s\S]*job\.data\.round/);
    expect(updates).toHaveLength(0);
  });

  it('drains on graceful shutdown: the active job finishes and submits before the worker closes', async () => {
    const updates: TrainingUpdate[] = [];
    const h = initTrainingWorker({
      connection: REDIS_URL,
      prefix,
      site: 'site-a',
      specs: SPECS,
      rowSource: { loadRows: async () => ROWS },
      onUpdate: (u) => void updates.push(u),
    });
    expect(() => initTrainingWorker({ connection: REDIS_URL, prefix, site: 'x', specs: SPECS, rowSource: { loadRows: async () => [] }, onUpdate: () => undefined })).toThrow(
      /already running/,
    );
    const producer = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = createTrainingQueue({ connection: producer, prefix });
    extra.push(queue, { close: () => producer.quit() });
    await enqueueTrainingJob(queue, { task: 'dr', round: 5, globalModelVersion: 'v5', hyper: { ...HYPER, epochs: 6 } });
    await new Promise<void>((resolve) => h.worker.once('progress', () => resolve()));
    await closeTrainingWorker();
    expect(await queue.getJobState('dr@5')).toBe('completed');
    expect(updates).toHaveLength(1);
  });

  it('retries a job whose worker was killed mid-training; the round yields exactly one update', async () => {
    const recorder = new Redis(REDIS_URL);
    extra.push({ close: () => recorder.quit() });
    // Only a queue here: a worker of ours would take the job before the child does.
    const producer = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queueOnly = createTrainingQueue({ connection: producer, prefix });
    extra.push(queueOnly, { close: () => producer.quit() });
    await enqueueTrainingJob(queueOnly, { task: 'dr', round: 9, globalModelVersion: 'v9', hyper: { ...HYPER, epochs: 8 } });

    const child = spawn(process.execPath, ['--import', 'tsx', 'test/training/fixtures/kill-worker.ts'], {
      env: { ...process.env, REDIS_URL, PREFIX: prefix, KILL_AT_EPOCH: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect(signal, stderr).toBe('SIGKILL');
    const job = await queueOnly.getJob('dr@9');
    // Orphaned: its worker is gone. Still `active`, or already moved back to `waiting` by a stalled-job check.
    expect(['active', 'waiting']).toContain(await job?.getState());

    const { queue, updates } = startWorker({ stalledInterval: 300 });
    const done = await settled(queue, 'dr@9');
    expect(done.attemptsStarted).toBe(2);
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue.status).toBe('submitted');
    expect(updates).toHaveLength(1);
    expect(await recorder.lrange(`${prefix}:test:updates`, 0, -1)).toEqual([]);
  });
});
