import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { FhirfedError, formatError, isFhirfedError, type ErrorCode } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { currentBackend, initBackend } from './backend.js';
import { parseHyper, TrainingHyperSchema, zodDetails } from './hyper.js';
import { RedisSubmissionStore, type SubmissionStore } from './submissions.js';
import { trainLocal } from './trainer.js';
import type { DpSgdReport, FeatureSpec, HeadMetrics, PrivacyHook, RowSource, SampleLevelPrivacy } from './types.js';

/** The training queue: one job = train one (task, round) on this site's rows and submit one update. */
export const TRAINING_QUEUE = 'fhirfed-training';
const JOB_NAME = 'train';

export const TrainingJobDataSchema = z
  .object({
    task: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'task: 1-64 letters, digits, ".", "_" or "-"'),
    round: z.number().int().min(0),
    globalModelVersion: z.string().min(1).max(128),
    hyper: TrainingHyperSchema.optional(),
  })
  .strict();

export type TrainingJobData = Readonly<z.input<typeof TrainingJobDataSchema>>;

/** Defaults every training job gets: transient faults retry with exponential backoff (2 s, 4 s, 8 s ...). */
export const TRAINING_JOB_DEFAULTS: JobsOptions = {
  attempts: 4,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { count: 1000, age: 7 * 24 * 3600 },
  removeOnFail: { count: 1000 },
};

/** What a site submits for a round (the caller hands it to the privacy-protected codec / federation client). */
export interface TrainingUpdate {
  readonly site: string;
  readonly task: string;
  readonly round: number;
  readonly globalModelVersion: string;
  readonly delta: Float32Array;
  readonly numSamples: number;
  readonly metrics: Readonly<Record<string, HeadMetrics>>;
  readonly epochs: number;
  readonly layoutFingerprint: string;
  readonly backend: string;
  /** DP-SGD runs only: the spend to record in the site's privacy ledger before the update leaves the site. */
  readonly dpSgd?: DpSgdReport;
}

/** The job's return value (stored in Redis, shown by /status): never weights, never rows. */
export interface TrainingJobResult {
  readonly status: 'submitted' | 'duplicate';
  readonly numSamples?: number;
  readonly epochs?: number;
  readonly metrics?: Readonly<Record<string, HeadMetrics>>;
  readonly backend?: string;
  readonly dpSteps?: number;
}

export interface GlobalModelSource {
  /** The global weights for a version; undefined = start from seeded initial weights (round 0). */
  loadGlobal(task: string, version: string): Promise<Float32Array | undefined>;
}

export interface TrainingWorkerDeps {
  readonly site: string;
  readonly rowSource: RowSource;
  /** The federation's feature schema (labels flagged), mapped into training's contract. */
  readonly specs: readonly FeatureSpec[];
  readonly onUpdate: (update: TrainingUpdate) => Promise<void> | void;
  readonly submissions: SubmissionStore;
  /** Prefix of the submission keys (the BullMQ prefix). */
  readonly keyPrefix: string;
  readonly globalModels?: GlobalModelSource;
  readonly privacy?: PrivacyHook;
  /** Sample-level DP-SGD inside local training (privacy.mode 'sample'). */
  readonly dpSgd?: SampleLevelPrivacy;
  readonly logger?: Logger;
  /** How long a submit may take before another attempt may claim the round. @defaultValue 10 minutes */
  readonly claimTtlMs?: number;
}

/** Error codes that mean "this job's input is wrong": retrying cannot help. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'FHIRFED_ERR_VALIDATION',
  'FHIRFED_ERR_BAD_REQUEST',
  'FHIRFED_ERR_CONFIG_INVALID',
  'FHIRFED_ERR_TRAINING',
  'FHIRFED_ERR_PRIVACY_PARAMS',
  // A retry would ask the same ledger the same question.
  'FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED',
]);

export function jobIdFor(task: string, round: number): string {
  // BullMQ refuses custom ids containing ':' (reserved for its repeatable-job keys), so `task@round`.
  return `${task}@${round}`;
}

export function parseJobData(data: unknown): z.output<typeof TrainingJobDataSchema> {
  const res = TrainingJobDataSchema.safeParse(data);
  if (res.success) return res.data;
  throw new FhirfedError('FHIRFED_ERR_VALIDATION', 'invalid training job data', {
    details: zodDetails(res.error.issues, 'job.data'),
    hint: 'a training job needs { task, round, globalModelVersion, hyper? }',
  });
}

export function createTrainingQueue(opts: { connection: Redis; prefix?: string }): Queue {
  return new Queue(TRAINING_QUEUE, {
    connection: opts.connection,
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
    defaultJobOptions: TRAINING_JOB_DEFAULTS,
  });
}

/** Validates and adds a job; a job already queued for the same (task, round) is not added twice. */
export async function enqueueTrainingJob(queue: Queue, data: TrainingJobData): Promise<Job> {
  const parsed = parseJobData(data);
  if (parsed.hyper) parseHyper(parsed.hyper, 'job.data.hyper');
  return queue.add(JOB_NAME, data, { jobId: jobIdFor(parsed.task, parsed.round) });
}

function submissionKey(deps: TrainingWorkerDeps, task: string, round: number): string {
  return `${deps.keyPrefix}:${TRAINING_QUEUE}:submitted:${deps.site}:${task}:${round}`;
}

/** Bad input becomes an UnrecoverableError (fails once, with the reason); anything else is retried. */
function classify(e: unknown): unknown {
  if (isFhirfedError(e) && PERMANENT.has(e.code)) return new UnrecoverableError(formatError(e));
  return e;
}

/**
 * Runs one training job: load rows, train, then submit the update at most once per (site, task, round) — a
 * duplicate, retried or stalled job finds the submission marker and completes without submitting again.
 */
export async function execTrainingJob(job: Job, deps: TrainingWorkerDeps): Promise<TrainingJobResult> {
  const log = deps.logger ?? silentLogger;
  let data: z.output<typeof TrainingJobDataSchema>;
  try {
    data = parseJobData(job.data);
  } catch (e) {
    throw classify(e);
  }
  const key = submissionKey(deps, data.task, data.round);
  if (await deps.submissions.isDone(key)) {
    log.info({ jobId: job.id, task: data.task, round: data.round }, 'update already submitted for this round; skipping');
    return { status: 'duplicate' };
  }
  let result;
  try {
    const rows = await deps.rowSource.loadRows(deps.site);
    const globalWeights = await deps.globalModels?.loadGlobal(data.task, data.globalModelVersion);
    result = await trainLocal({
      rows,
      specs: deps.specs,
      ...(globalWeights ? { globalWeights } : {}),
      ...(data.hyper ? { hyper: data.hyper } : {}),
      ...(deps.privacy ? { privacy: deps.privacy } : {}),
      ...(deps.dpSgd ? { dpSgd: deps.dpSgd } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
      onProgress: (epoch, loss) => job.updateProgress({ epoch, loss }),
    });
  } catch (e) {
    throw classify(e);
  }
  const token = `${job.id}:${job.attemptsMade}:${randomUUID()}`;
  const claim = await deps.submissions.claim(key, token, deps.claimTtlMs ?? 10 * 60_000);
  if (claim === 'done') return { status: 'duplicate' };
  if (claim === 'busy') {
    // Another attempt is submitting this round now; retry later to see whether it finished or died.
    throw new FhirfedError('FHIRFED_ERR_CONFLICT', `round ${data.round} of '${data.task}' is being submitted by another attempt`);
  }
  try {
    await deps.onUpdate({
      site: deps.site,
      task: data.task,
      round: data.round,
      globalModelVersion: data.globalModelVersion,
      delta: result.delta,
      numSamples: result.numSamples,
      metrics: result.metrics,
      epochs: result.epochs,
      layoutFingerprint: result.layout.fingerprint,
      backend: result.backend,
      ...(result.dpSgd ? { dpSgd: result.dpSgd } : {}),
    });
  } catch (e) {
    await deps.submissions.release(key, token);
    throw e;
  }
  await deps.submissions.markDone(key, token);
  log.info({ jobId: job.id, task: data.task, round: data.round, epochs: result.epochs, n: result.numSamples }, 'training update submitted');
  return {
    status: 'submitted', numSamples: result.numSamples, epochs: result.epochs, metrics: result.metrics, backend: result.backend,
    ...(result.dpSgd ? { dpSteps: result.dpSgd.dpSteps } : {}),
  };
}

export interface InitTrainingWorkerOptions extends Omit<TrainingWorkerDeps, 'submissions' | 'keyPrefix'> {
  /** A Redis URL, or an ioredis client created with `maxRetriesPerRequest: null` (BullMQ workers require it). */
  readonly connection: string | Redis;
  /** BullMQ key prefix (tests use a random one). @defaultValue 'bull' */
  readonly prefix?: string;
  /** Defaults to the Redis SET NX store on the same Redis. */
  readonly submissions?: SubmissionStore;
  /** Overrides, e.g. lockDuration/stalledInterval. Concurrency defaults to 1: training is CPU-bound. */
  readonly workerOptions?: Partial<Omit<WorkerOptions, 'connection' | 'prefix'>>;
}

export interface TrainingWorkerHandle {
  readonly worker: Worker;
  readonly queue: Queue;
  /** Stops taking jobs, waits for the active one to finish (drain), then closes connections. */
  close(): Promise<void>;
}

function connect(connection: string | Redis): { redis: Redis; owned: boolean } {
  if (typeof connection === 'string') return { redis: new Redis(connection, { maxRetriesPerRequest: null }), owned: true };
  if (connection.options.maxRetriesPerRequest !== null) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'the Redis client for the training worker has maxRetriesPerRequest set', {
      hint: 'create it with new Redis(url, { maxRetriesPerRequest: null }) as BullMQ workers require',
    });
  }
  return { redis: connection, owned: false };
}

/** A training worker and its queue, not registered as the process-wide one (tests, embedding). */
export function createTrainingWorker(opts: InitTrainingWorkerOptions): TrainingWorkerHandle {
  const { redis, owned } = connect(opts.connection);
  const prefix = opts.prefix ?? 'bull';
  const log = opts.logger ?? silentLogger;
  const deps: TrainingWorkerDeps = { ...opts, submissions: opts.submissions ?? new RedisSubmissionStore(redis), keyPrefix: prefix };
  const queue = createTrainingQueue({ connection: redis, prefix });
  // Choose (and log) the backend at startup so /status shows it before the first job.
  initBackend(opts.logger).catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'tensorflow.js backend failed'));
  const worker = new Worker(TRAINING_QUEUE, (job: Job) => execTrainingJob(job, deps), {
    connection: redis,
    prefix,
    concurrency: 1,
    ...opts.workerOptions,
  });
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, reason: err.message }, 'training job attempt failed'),
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'training worker error'));
  let closing: Promise<void> | undefined;
  return {
    worker,
    queue,
    close() {
      closing ??= (async () => {
        await worker.close();
        await queue.close();
        if (owned) await redis.quit();
      })();
      return closing;
    },
  };
}

let current: TrainingWorkerHandle | undefined;

/** Starts the process's training worker (one per process, like the other queue modules). */
export function initTrainingWorker(opts: InitTrainingWorkerOptions): TrainingWorkerHandle {
  if (current) {
    throw new FhirfedError('FHIRFED_ERR_CONFLICT', 'the training worker is already running', {
      hint: 'call closeTrainingWorker() first',
    });
  }
  current = createTrainingWorker(opts);
  return current;
}

/** Graceful shutdown: the active job finishes (and submits) before the worker stops. */
export async function closeTrainingWorker(): Promise<void> {
  const h = current;
  current = undefined;
  await h?.close();
}

export function getTrainingWorker(): TrainingWorkerHandle | undefined {
  return current;
}

export interface TrainingQueueState {
  readonly queue: string;
  readonly backend: string | undefined;
  readonly counts: Readonly<Record<string, number>>;
  readonly active: readonly { id: string | undefined; task: unknown; round: unknown; attemptsMade: number; progress: unknown }[];
  readonly recentFailures: readonly { id: string | undefined; reason: string; attemptsMade: number }[];
}

/** Counts, active jobs with their {epoch, loss} progress, and recent failure reasons: for /status. */
export async function getQueueState(queue: Queue): Promise<TrainingQueueState> {
  const [counts, active, failed] = await Promise.all([
    queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'),
    queue.getActive(0, 9),
    queue.getFailed(0, 4),
  ]);
  return {
    queue: queue.name,
    backend: currentBackend(),
    counts,
    active: active.map((j) => ({
      id: j.id,
      task: (j.data as { task?: unknown }).task,
      round: (j.data as { round?: unknown }).round,
      attemptsMade: j.attemptsMade,
      progress: j.progress,
    })),
    recentFailures: failed.map((j) => ({ id: j.id, reason: j.failedReason, attemptsMade: j.attemptsMade })),
  };
}
