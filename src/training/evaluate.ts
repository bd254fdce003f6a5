import { FhirfedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { initBackend } from './backend.js';
import { describeSchema, encodeRows, fitStandardizer, validateRows, type EncodedRows } from './encode.js';
import { parseHyper, trunkSizes, type TrainingHyperInput } from './hyper.js';
import { accuracy, auroc, bestF1Threshold, confusion, f1Score, logLoss } from './metrics.js';
import { MultiTaskModel } from './model.js';
import { stratifiedSplit } from './split.js';
import type { FeatureSpec, HeadMetrics, TrainingRow } from './types.js';

/**
 * Federated evaluation: the metrics of a given (global) model on this site's holdout split — the same seeded split
 * and train-fitted standardisation local training uses, so "global model on my holdout" and "my local model on my
 * holdout" are comparable. The F1 threshold is chosen on the train predictions, as in training.
 */
export async function evaluateModel(opts: {
  readonly rows: readonly TrainingRow[];
  readonly specs: readonly FeatureSpec[];
  readonly weights: Float32Array;
  readonly hyper?: TrainingHyperInput;
  readonly logger?: Logger;
}): Promise<Readonly<Record<string, HeadMetrics>>> {
  const hyper = parseHyper(opts.hyper);
  const { tf } = await initBackend(opts.logger);
  const info = describeSchema(opts.specs);
  validateRows(opts.rows, opts.specs);
  const split = stratifiedSplit(opts.rows, info.labels[0] as FeatureSpec, hyper.holdoutFraction, hyper.seed);
  if (split.train.length < 2 || split.holdout.length < 1) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `only ${opts.rows.length} rows: too few to evaluate`);
  }
  const st = fitStandardizer(split.train, info);
  const train = encodeRows(split.train, info, st);
  const hold = encodeRows(split.holdout, info, st);
  const model = MultiTaskModel.build(tf, { inputWidth: info.columns.length, labels: info.labels.map((l) => l.name), trunk: trunkSizes(hyper) });
  try {
    model.setFlatWeights(opts.weights);
    const xTrain = tf.tensor2d(train.x, [train.n, info.columns.length]);
    const xHold = tf.tensor2d(hold.x, [hold.n, info.columns.length]);
    const trainP = model.predictProba(xTrain);
    const holdP = model.predictProba(xHold);
    xTrain.dispose();
    xHold.dispose();
    const heads = info.labels.length;
    const out: Record<string, HeadMetrics> = {};
    info.labels.forEach((l, j) => {
      const tr = labelled(trainP, train, heads, j);
      const ho = labelled(holdP, hold, heads, j);
      const { threshold } = bestF1Threshold(tr.p, tr.y);
      const c = confusion(ho.p, ho.y, threshold);
      out[l.name] = { f1: f1Score(c), auroc: auroc(ho.p, ho.y), accuracy: accuracy(c), loss: logLoss(ho.p, ho.y), threshold, n: ho.y.length, positives: c.tp + c.fn };
    });
    return out;
  } finally {
    model.dispose();
  }
}

function labelled(probs: Float32Array, enc: EncodedRows, heads: number, j: number): { p: Float32Array; y: Uint8Array } {
  const idx: number[] = [];
  for (let r = 0; r < enc.n; r++) if (enc.mask[r * heads + j] === 1) idx.push(r);
  return {
    p: Float32Array.from(idx, (r) => probs[r * heads + j] as number),
    y: Uint8Array.from(idx, (r) => enc.y[r * heads + j] as number),
  };
}

/** The seeded initial weights every site starts from (what an aggregator's `task.model.initialFile` holds). */
export async function initialModelWeights(specs: readonly FeatureSpec[], hyperInput?: TrainingHyperInput, logger?: Logger): Promise<Float32Array> {
  const hyper = parseHyper(hyperInput);
  const { tf } = await initBackend(logger);
  const info = describeSchema(specs);
  const model = MultiTaskModel.build(tf, { inputWidth: info.columns.length, labels: info.labels.map((l) => l.name), trunk: trunkSizes(hyper) });
  try {
    return model.initialWeights(hyper.seed);
  } finally {
    model.dispose();
  }
}
