/**
 * Local training throughput: rows/s through the whole job path (load rows, validate, split, encode, build tensors,
 * train with the masked multi-task loss and per-epoch holdout evaluation, metrics, delta) as a ratio to a bare
 * tfjs `model.fit` of the same architecture on the same train tensors, same epochs and batch size, in the same run.
 * Goal: ratio >= 0.9. A second row runs the job through a real BullMQ worker when Redis is reachable.
 *
 * Standalone: `npx tsx bench/training.bench.ts` (BENCH_ROWS, BENCH_EPOCHS to resize).
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type * as tfTypes from '@tensorflow/tfjs';
import { initBackend, type Tf } from '../src/training/backend.js';
import { describeSchema, encodeRows, fitStandardizer } from '../src/training/encode.js';
import { createTrainingWorker, enqueueTrainingJob } from '../src/training/queue.js';
import { createRng } from '../src/training/rng.js';
import { stratifiedSplit } from '../src/training/split.js';
import { trainLocal } from '../src/training/trainer.js';
import type { FeatureSpec, RowSource, TrainingRow } from '../src/training/types.js';
import type { BenchResult } from './lib/types.js';

const N = Number(process.env.BENCH_ROWS ?? 4000);
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 5);
const HYPER = { model: 'mlp' as const, hidden: [32], epochs: EPOCHS, batchSize: 64, learningRate: 0.01, patience: EPOCHS + 1, seed: 1 };
const REPS = 3;

const SPECS: FeatureSpec[] = [
  ...Array.from({ length: 12 }, (_, i): FeatureSpec => ({ name: `lab_${i}`, type: 'number' })),
  { name: 'sex', type: 'categorical', categories: ['F', 'M', 'U'] },
  { name: 'smoker', type: 'boolean' },
  { name: 'drug_response', type: 'boolean', label: true },
  { name: 'adverse_event', type: 'boolean', label: true },
];

/** No missing labels: bare model.fit cannot mask, and both sides must optimise the same objective. */
function rows(n: number): TrainingRow[] {
  const rng = createRng(11);
  return Array.from({ length: n }, (_, i) => {
    const values: Record<string, number | string | boolean | null> = {};
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < 12; j++) {
      const v = rng() * 2 - 1;
      values[`lab_${j}`] = rng() < 0.05 ? null : v;
      s1 += j % 2 === 0 ? v : 0;
      s2 += j % 3 === 0 ? v : 0;
    }
    values.sex = rng() < 0.5 ? 'F' : 'M';
    values.smoker = rng() < 0.3;
    values.drug_response = s1 + (rng() - 0.5) > 0;
    values.adverse_event = s2 + (values.smoker ? 0.5 : 0) + (rng() - 0.5) > 0.3;
    return { key: `r${i}`, values };
  });
}

function bareModel(tf: Tf, width: number): tfTypes.LayersModel {
  const input = tf.input({ shape: [width] });
  const h = tf.layers.dense({ units: 32, activation: 'relu' }).apply(input) as tfTypes.SymbolicTensor;
  const outs = [0, 1].map((_) => tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(h) as tfTypes.SymbolicTensor);
  const m = tf.model({ inputs: input, outputs: outs });
  m.compile({ optimizer: tf.train.adam(HYPER.learningRate), loss: ['binaryCrossentropy', 'binaryCrossentropy'] });
  return m;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function run(): Promise<BenchResult[]> {
  const { tf, name: backend } = await initBackend();
  const data = rows(N);
  const source: RowSource = { loadRows: async () => data };

  // The baseline's tensors are exactly the pipeline's train tensors (same split, same standardisation).
  const info = describeSchema(SPECS);
  const split = stratifiedSplit(data, info.labels[0] as FeatureSpec, 0.2, HYPER.seed);
  const train = encodeRows(split.train, info, fitStandardizer(split.train, info));
  const width = info.columns.length;
  const x = tf.tensor2d(train.x, [train.n, width]);
  const y = tf.tensor2d(train.y, [train.n, 2]);
  const ys = tf.split(y, 2, 1);

  const bare = async (): Promise<number> => {
    const m = bareModel(tf, width);
    const t0 = performance.now();
    await m.fit(x, ys, { epochs: EPOCHS, batchSize: HYPER.batchSize, shuffle: true, verbose: 0 });
    const ms = performance.now() - t0;
    m.dispose();
    return ms;
  };
  const pipeline = async (): Promise<number> => {
    const t0 = performance.now();
    const r = await trainLocal({ rows: await source.loadRows('bench'), specs: SPECS, hyper: HYPER });
    const ms = performance.now() - t0;
    if (r.epochs !== EPOCHS || r.numSamples !== train.n) throw new Error('pipeline and baseline diverged in epochs or rows');
    return ms;
  };

  await bare(); // warm-up: wasm kernels, JIT
  await pipeline();
  const tBare: number[] = [];
  const tPipe: number[] = [];
  for (let i = 0; i < REPS; i++) {
    tBare.push(await bare());
    tPipe.push(await pipeline());
  }
  const work = train.n * EPOCHS;
  const bareRate = work / (median(tBare) / 1000);
  const pipeRate = work / (median(tPipe) / 1000);
  const results: BenchResult[] = [
    {
      name: 'training.job.local',
      metric: 'train rows/s',
      value: Math.round(pipeRate),
      baseline: `bare tfjs model.fit ${Math.round(bareRate)} rows/s`,
      ratio: pipeRate / bareRate,
      notes: `backend=${backend}; ${train.n} train rows x ${EPOCHS} epochs, batch ${HYPER.batchSize}, mlp [32], 2 heads; median of ${REPS}`,
    },
  ];

  const queued = await viaQueue(source, work).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
  if (typeof queued === 'number') {
    results.push({
      name: 'training.job.bullmq',
      metric: 'train rows/s',
      value: Math.round(queued),
      baseline: `bare tfjs model.fit ${Math.round(bareRate)} rows/s`,
      ratio: queued / bareRate,
      notes: `backend=${backend}; through a real BullMQ worker (Redis), one job`,
    });
  } else {
    results.push({ name: 'training.job.bullmq', metric: 'train rows/s', value: 0, baseline: 'skipped', ratio: 0, notes: `Redis unavailable: ${queued}` });
  }
  tf.dispose([x, y, ...ys]);
  return results;
}

/** One job through a real worker; the clock runs from enqueue to the update callback. */
async function viaQueue(source: RowSource, work: number): Promise<number> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await probe.connect();
  const prefix = `fhirfed-bench-${randomUUID().slice(0, 8)}`;
  let done!: () => void;
  const submitted = new Promise<void>((r) => (done = r));
  const h = createTrainingWorker({ connection: url, prefix, site: 'bench', specs: SPECS, rowSource: source, onUpdate: () => done() });
  try {
    const t0 = performance.now();
    await enqueueTrainingJob(h.queue, { task: 'bench', round: 0, globalModelVersion: 'v0', hyper: HYPER });
    await submitted;
    return work / ((performance.now() - t0) / 1000);
  } finally {
    await h.queue.obliterate({ force: true }).catch(() => undefined);
    await h.close();
    const keys = await probe.keys(`${prefix}:*`);
    if (keys.length > 0) await probe.del(...keys);
    await probe.quit();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (rs) => {
      for (const r of rs) console.log(`${r.name}: ${r.value} ${r.metric} (ratio ${r.ratio.toFixed(3)} vs ${r.baseline}) ${r.notes ?? ''}`);
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    },
  );
}
