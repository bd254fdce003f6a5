import type * as tfTypes from '@tensorflow/tfjs';
import { FhirfedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { initBackend, type Tf } from './backend.js';
import { describeSchema, encodeRows, fitStandardizer, validateRows, type EncodedRows } from './encode.js';
import { parseHyper, trunkSizes, type TrainingHyper, type TrainingHyperInput } from './hyper.js';
import { accuracy, auroc, bestF1Threshold, confusion, EarlyStopping, f1Score, logLoss } from './metrics.js';
import { computeDelta, maskedLoss, MultiTaskModel, proximalTerm } from './model.js';
import { createRng, deriveSeed, shuffleInPlace } from './rng.js';
import { stratifiedSplit } from './split.js';
import { checkSampleLevelPrivacy, dpSgdEpoch, dpSgdSchedule } from './dpsgd-step.js';
import type { DpSgdReport, FeatureSpec, HeadMetrics, PrivacyHook, SampleLevelPrivacy, TrainingRow, WeightLayout } from './types.js';

export interface TrainLocalOptions {
  readonly rows: readonly TrainingRow[];
  readonly specs: readonly FeatureSpec[];
  /** The global model to start from; without it the model starts from seeded initial weights. */
  readonly globalWeights?: Float32Array;
  readonly hyper?: TrainingHyperInput;
  /** Called after every epoch with the mean training loss. May be async (e.g. job.updateProgress). */
  readonly onProgress?: (epoch: number, loss: number) => void | Promise<void>;
  /** Applied to the delta before it is returned (clipping + noise). */
  readonly privacy?: PrivacyHook;
  /**
   * Sample-level DP-SGD: per-example clipping and Gaussian noise inside every step, on Poisson-sampled batches of
   * expected size `hyper.batchSize`. Charge the budget with the returned `dpSgd` (steps actually taken).
   */
  readonly dpSgd?: SampleLevelPrivacy;
  readonly logger?: Logger;
}

export interface TrainLocalResult {
  /** Local weights after training (best holdout epoch). They stay on the site. */
  readonly weights: Float32Array;
  /** local - global, after the privacy hook when one is given: the only thing that should leave the site. */
  readonly delta: Float32Array;
  /** Training rows (the FedAvg weight). */
  readonly numSamples: number;
  readonly holdoutSamples: number;
  readonly metrics: Readonly<Record<string, HeadMetrics>>;
  /** Epochs actually run (early stopping may end before `hyper.epochs`). */
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly layout: WeightLayout;
  readonly backend: string;
  readonly hyper: TrainingHyper;
  /** Present when `dpSgd` was given: what this run spent, for the privacy ledger. */
  readonly dpSgd?: DpSgdReport;
}

/** The encoded splits as tensors; `targets` packs [labels | loss weights | mask] per head. */
interface Tensors {
  readonly xTrain: tfTypes.Tensor2D;
  readonly tTrain: tfTypes.Tensor2D;
  readonly xHold: tfTypes.Tensor2D;
  readonly tHold: tfTypes.Tensor2D;
}

function packTargets(enc: EncodedRows, heads: number, posWeight: readonly number[]): Float32Array {
  const t = new Float32Array(enc.n * heads * 3);
  for (let r = 0; r < enc.n; r++) {
    for (let j = 0; j < heads; j++) {
      const y = enc.y[r * heads + j] as number;
      const m = enc.mask[r * heads + j] as number;
      t[r * heads * 3 + j] = y;
      t[r * heads * 3 + heads + j] = m * (y === 1 ? (posWeight[j] as number) : 1);
      t[r * heads * 3 + 2 * heads + j] = m;
    }
  }
  return t;
}

function positiveWeights(enc: EncodedRows, heads: number, hyper: TrainingHyper): number[] {
  return Array.from({ length: heads }, (_, j) => {
    if (hyper.classWeight === 'none') return 1;
    let pos = 0;
    let neg = 0;
    for (let r = 0; r < enc.n; r++) {
      if (enc.mask[r * heads + j] !== 1) continue;
      if (enc.y[r * heads + j] === 1) pos++;
      else neg++;
    }
    return pos > 0 && neg > 0 ? neg / pos : 1;
  });
}

/** Probabilities and labels of one head over the rows where it has a label. */
function column(probs: Float32Array, enc: EncodedRows, heads: number, j: number): { p: Float32Array; y: Uint8Array } {
  const idx: number[] = [];
  for (let r = 0; r < enc.n; r++) if (enc.mask[r * heads + j] === 1) idx.push(r);
  const p = new Float32Array(idx.length);
  const y = new Uint8Array(idx.length);
  idx.forEach((r, i) => {
    p[i] = probs[r * heads + j] as number;
    y[i] = enc.y[r * heads + j] as number;
  });
  return { p, y };
}

function headMetrics(trainP: Float32Array, train: EncodedRows, holdP: Float32Array, hold: EncodedRows, heads: number, j: number): HeadMetrics {
  const tr = column(trainP, train, heads, j);
  const ho = column(holdP, hold, heads, j);
  const { threshold } = bestF1Threshold(tr.p, tr.y);
  const c = confusion(ho.p, ho.y, threshold);
  return {
    f1: f1Score(c),
    auroc: auroc(ho.p, ho.y),
    accuracy: accuracy(c),
    loss: logLoss(ho.p, ho.y),
    threshold,
    n: ho.y.length,
    positives: c.tp + c.fn,
  };
}

function prepare(opts: TrainLocalOptions, hyper: TrainingHyper) {
  const info = describeSchema(opts.specs);
  if (opts.rows.length === 0) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', 'no training rows for this site', {
      hint: 'ingest and harmonize data for the site first (fhirfed ingest, fhirfed mappings)',
    });
  }
  validateRows(opts.rows, opts.specs);
  const split = stratifiedSplit(opts.rows, info.labels[0] as FeatureSpec, hyper.holdoutFraction, hyper.seed);
  if (split.train.length < 2 || split.holdout.length < 1) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `only ${opts.rows.length} rows: too few for a train/holdout split`, {
      hint: 'a site needs at least a handful of rows per class of the first label to train',
    });
  }
  const st = fitStandardizer(split.train, info);
  const train = encodeRows(split.train, info, st);
  const hold = encodeRows(split.holdout, info, st);
  return { info, train, hold };
}

/**
 * Trains the model on one site's rows: stratified split, standardisation fitted on train, masked multi-task loss
 * (optionally with the FedProx term), early stopping on holdout loss with the best epoch's weights restored,
 * per-head holdout metrics, and the update against the global model.
 */
export async function trainLocal(opts: TrainLocalOptions): Promise<TrainLocalResult> {
  const hyper = parseHyper(opts.hyper);
  if (opts.dpSgd) {
    checkSampleLevelPrivacy(opts.dpSgd);
    if (hyper.classWeight === 'balanced') {
      // The weights come from the whole site's class counts, outside the per-example sensitivity DP-SGD bounds.
      opts.logger?.warn('classWeight "balanced" with DP-SGD: the class weights are computed from all rows without noise');
    }
  }
  const { name: backend, tf } = await initBackend(opts.logger);
  const { info, train, hold } = prepare(opts, hyper);
  const heads = info.labels.length;
  const model = MultiTaskModel.build(tf, { inputWidth: info.columns.length, labels: info.labels.map((l) => l.name), trunk: trunkSizes(hyper) });
  const tensors: tfTypes.Tensor[] = [];
  try {
    const global = opts.globalWeights ?? model.initialWeights(hyper.seed);
    model.setFlatWeights(global);
    const posW = positiveWeights(train, heads, hyper);
    const t: Tensors = {
      xTrain: tf.tensor2d(train.x, [train.n, info.columns.length]),
      tTrain: tf.tensor2d(packTargets(train, heads, posW), [train.n, heads * 3]),
      xHold: tf.tensor2d(hold.x, [hold.n, info.columns.length]),
      tHold: tf.tensor2d(packTargets(hold, heads, posW.map(() => 1)), [hold.n, heads * 3]),
    };
    tensors.push(...Object.values(t));
    const globalT = hyper.proxMu > 0 ? model.toTensors(global) : [];
    tensors.push(...globalT);

    const { epochs, bestEpoch, dp } = await fit(tf, model, t, heads, hyper, globalT, opts.onProgress, opts.dpSgd);
    const weights = model.getFlatWeights();
    const trainP = model.predictProba(t.xTrain);
    const holdP = model.predictProba(t.xHold);
    const metrics: Record<string, HeadMetrics> = {};
    info.labels.forEach((l, j) => (metrics[l.name] = headMetrics(trainP, train, holdP, hold, heads, j)));
    const raw = computeDelta(weights, global);
    const delta = opts.privacy ? opts.privacy.clipAndNoiseUpdate(raw) : raw;
    if (delta.length !== raw.length) {
      throw new FhirfedError('FHIRFED_ERR_TRAINING', `privacy hook returned ${delta.length} values for a ${raw.length}-value update`);
    }
    return {
      weights, delta, numSamples: train.n, holdoutSamples: hold.n, metrics, epochs, bestEpoch, layout: model.layout, backend, hyper,
      ...(dp ? { dpSgd: dp } : {}),
    };
  } finally {
    for (const x of tensors) x.dispose();
    model.dispose();
  }
}

/**
 * One ordinary epoch: seeded reshuffle of `order` (carried across epochs), fixed-size mini-batches, the masked loss
 * (+ FedProx). Returns the summed loss.
 */
function plainEpoch(tf: Tf, model: MultiTaskModel, t: Tensors, heads: number, hyper: TrainingHyper, globalT: readonly tfTypes.Tensor[], optimizer: tfTypes.Optimizer, epoch: number, order: number[]): number {
  const n = t.xTrain.shape[0];
  shuffleInPlace(order, createRng(deriveSeed(hyper.seed, epoch)));
  const costs: tfTypes.Scalar[] = [];
  const [xs, ts] = tf.tidy(() => {
    const idx = tf.tensor1d(order, 'int32');
    return [tf.gather(t.xTrain, idx), tf.gather(t.tTrain, idx)] as [tfTypes.Tensor2D, tfTypes.Tensor2D];
  });
  try {
    for (let s = 0; s < n; s += hyper.batchSize) {
      const size = Math.min(hyper.batchSize, n - s);
      const cost = tf.tidy(() => {
        const xb = xs.slice([s, 0], [size, -1]);
        const tb = ts.slice([s, 0], [size, -1]);
        return tf.mul(
          optimizer.minimize(() => {
            const loss = maskedLoss(tf, model.logits(xb), tb, heads);
            return globalT.length > 0 ? tf.add(loss, proximalTerm(tf, model.variables, globalT, hyper.proxMu)) : loss;
          }, true, [...model.variables]) as tfTypes.Scalar,
          size,
        ) as tfTypes.Scalar;
      });
      costs.push(cost);
    }
    const total = tf.tidy(() => tf.addN(costs));
    const value = total.dataSync()[0] ?? NaN;
    total.dispose();
    return value;
  } finally {
    tf.dispose([xs, ts, ...costs]);
  }
}

async function fit(
  tf: Tf,
  model: MultiTaskModel,
  t: Tensors,
  heads: number,
  hyper: TrainingHyper,
  globalT: readonly tfTypes.Tensor[],
  onProgress: TrainLocalOptions['onProgress'],
  dpSgd: SampleLevelPrivacy | undefined,
): Promise<{ epochs: number; bestEpoch: number; dp?: DpSgdReport }> {
  const n = t.xTrain.shape[0];
  const schedule = dpSgdSchedule(n, hyper.batchSize);
  // Refuse an over-budget run before a single noisy step is taken (the caller's ledger decides).
  dpSgd?.authorize?.({ sampleRate: schedule.sampleRate, noiseMultiplier: dpSgd.noiseMultiplier, steps: hyper.epochs * schedule.stepsPerEpoch });
  const optimizer = tf.train.adam(hyper.learningRate);
  const stopper = new EarlyStopping(hyper.patience);
  const order = Array.from({ length: n }, (_, i) => i);
  let best: Float32Array | undefined;
  let epoch = 0;
  let dpSteps = 0;
  let sampled = 0;
  let clipped = 0;
  try {
    while (epoch < hyper.epochs) {
      let tl: number;
      if (dpSgd) {
        const st = dpSgdEpoch({ tf, model, optimizer, privacy: dpSgd, xTrain: t.xTrain, tTrain: t.tTrain, batchSize: hyper.batchSize, globalT, proxMu: hyper.proxMu });
        dpSteps += st.steps;
        sampled += st.examples;
        clipped += st.clipped;
        tl = st.meanLoss;
      } else {
        tl = plainEpoch(tf, model, t, heads, hyper, globalT, optimizer, epoch, order) / n;
      }
      const holdLoss = tf.tidy(() => maskedLoss(tf, model.logits(t.xHold), t.tHold, heads));
      const hl = holdLoss.dataSync()[0] ?? NaN;
      holdLoss.dispose();
      if (stopper.observe(epoch, hl)) best = model.getFlatWeights();
      epoch++;
      await onProgress?.(epoch, tl);
      // NaN from an empty Poisson draw is not divergence; a non-finite holdout loss is.
      if (!Number.isFinite(dpSgd ? hl : tl)) {
        throw new FhirfedError('FHIRFED_ERR_TRAINING', `training diverged at epoch ${epoch} (loss ${dpSgd ? hl : tl})`, {
          hint: 'lower hyper.learningRate or check the features for extreme values',
        });
      }
      if (stopper.shouldStop) break;
      // Let the event loop breathe: BullMQ renews the job lock from it.
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    optimizer.dispose();
  }
  if (best) model.setFlatWeights(best);
  const dp: DpSgdReport | undefined = dpSgd && {
    dpSteps,
    sampleRate: schedule.sampleRate,
    noiseMultiplier: dpSgd.noiseMultiplier,
    clipNorm: dpSgd.clipNorm,
    expectedBatchSize: schedule.expectedBatchSize,
    stepsPerEpoch: schedule.stepsPerEpoch,
    clippedFraction: sampled > 0 ? clipped / sampled : 0,
  };
  return { epochs: epoch, bestEpoch: stopper.bestEpoch + 1, ...(dp ? { dp } : {}) };
}
