import { randomBytes } from 'node:crypto';
import type * as tfTypes from '@tensorflow/tfjs';
import { FhirfedError } from '../core/errors.js';
import type { Tf } from './backend.js';
import type { MultiTaskModel } from './model.js';
import type { SampleLevelPrivacy } from './types.js';

/**
 * Per-example gradients of the multi-task model without a per-example loop. Every layer is dense, so example i's
 * kernel gradient is the outer product a_i ⊗ δ_i of the layer input and the loss gradient at the pre-activation, and
 * its squared norm is |a_i|²·|δ_i|² (plus |δ_i|² for the bias): per-example norms cost one backward pass, and the sum
 * of clipped gradients is a^T (s ⊙ δ) with s_i = min(1, C / |g_i|) (Goodfellow 2015; Lee & Kifer 2021 "ghost
 * clipping"). The test suite checks this against a loop of tf.variableGrads over single examples.
 *
 * The per-example loss is ℓ_i = (1/H) Σ_j w_ij · BCE(z_ij, y_ij): a missing label has w = 0. The non-DP loss divides
 * each head by the number of labelled rows in the batch instead; that count depends on the other examples, so it is
 * not a sum of per-example terms and cannot be clipped per example. With every label present the two coincide:
 * mean_i ℓ_i is exactly `maskedLoss`.
 */

export interface ClippedGradients {
  /** Σ_i clip(g_i, C), flat in the model's layout order. */
  readonly sum: Float32Array;
  /** |g_i| before clipping, one per example. */
  readonly norms: Float32Array;
  readonly clippedCount: number;
  /** Σ_i ℓ_i (for progress reporting only: stays on the site). */
  readonly lossSum: number;
}

/** Σ_i clip(∇ℓ_i, clipNorm) over the rows of `x` (targets packed [labels | weights | mask] as in the trainer). */
export function clippedGradientSum(tf: Tf, model: MultiTaskModel, x: tfTypes.Tensor2D, t: tfTypes.Tensor2D, clipNorm: number): ClippedGradients {
  const heads = model.spec.labels.length;
  const depth = model.spec.trunk.length;
  const v = model.variables;
  const out = tf.tidy(() => {
    const acts: tfTypes.Tensor2D[] = [x];
    const pre: tfTypes.Tensor2D[] = [];
    for (let l = 0; l < depth; l++) {
      const z = tf.add(tf.matMul(acts[l] as tfTypes.Tensor2D, v[2 * l] as tfTypes.Variable), v[2 * l + 1] as tfTypes.Variable) as tfTypes.Tensor2D;
      pre.push(z);
      acts.push(tf.relu(z));
    }
    const headVars = v.slice(2 * depth);
    const wHead = tf.concat(headVars.filter((_, k) => k % 2 === 0) as tfTypes.Tensor2D[], 1);
    const bHead = tf.concat(headVars.filter((_, k) => k % 2 === 1) as tfTypes.Tensor1D[], 0);
    const top = acts[depth] as tfTypes.Tensor2D;
    const logits = tf.add(tf.matMul(top, wHead), bHead) as tfTypes.Tensor2D;
    const [y, w] = tf.split(t, [heads, heads, heads], 1) as [tfTypes.Tensor2D, tfTypes.Tensor2D, tfTypes.Tensor2D];
    const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    const lossSum = tf.div(tf.sum(tf.mul(bce, w)), heads);
    // dℓ_i/dz for sigmoid + BCE is w (σ(z) - y), scaled by the head average.
    const deltas: tfTypes.Tensor2D[] = new Array<tfTypes.Tensor2D>(depth + 1);
    deltas[depth] = tf.div(tf.mul(w, tf.sub(tf.sigmoid(logits), y)), heads) as tfTypes.Tensor2D;
    for (let l = depth - 1; l >= 0; l--) {
      const next = l === depth - 1 ? wHead : (v[2 * (l + 1)] as tfTypes.Tensor2D);
      const back = tf.matMul(deltas[l + 1] as tfTypes.Tensor2D, next, false, true);
      deltas[l] = tf.mul(back, tf.step(pre[l] as tfTypes.Tensor2D)) as tfTypes.Tensor2D;
    }
    // |g_i|² = Σ_layers (|a_i|² + 1) |δ_i|²: the +1 is the bias.
    const sq = tf.addN(deltas.map((d, l) => tf.mul(tf.add(tf.sum(tf.square(acts[l] as tfTypes.Tensor2D), 1), 1), tf.sum(tf.square(d), 1))));
    const norms = tf.sqrt(sq);
    const scale = tf.minimum(1, tf.div(clipNorm, tf.maximum(norms, 1e-12))).reshape([-1, 1]);
    const grads: tfTypes.Tensor[] = [];
    deltas.forEach((d, l) => {
      const sd = tf.mul(d, scale);
      const kernel = tf.matMul(acts[l] as tfTypes.Tensor2D, sd, true, false);
      const bias = tf.sum(sd, 0);
      if (l < depth) {
        grads.push(kernel, bias);
      } else {
        // The heads are separate dense layers of one unit: split the combined kernel back by column.
        for (let j = 0; j < heads; j++) grads.push(kernel.slice([0, j], [-1, 1]), bias.slice([j], [1]));
      }
    });
    return { grads, norms, lossSum };
  });
  try {
    const sum = new Float32Array(model.layout.total);
    out.grads.forEach((g, k) => sum.set(g.dataSync() as Float32Array, model.layout.entries[k]?.offset ?? 0));
    const norms = out.norms.dataSync() as Float32Array;
    let clippedCount = 0;
    for (const n of norms) if (n > clipNorm) clippedCount++;
    return { sum, norms: Float32Array.from(norms), clippedCount, lossSum: out.lossSum.dataSync()[0] ?? NaN };
  } finally {
    tf.dispose([...out.grads, out.norms, out.lossSum]);
  }
}

/** Adds N(0, (z C)²) per coordinate to a clipped sum (in place) and divides by the expected batch size. */
export function privatizeSum(sum: Float32Array, privacy: SampleLevelPrivacy, expectedBatchSize: number): Float32Array {
  const std = privacy.noiseMultiplier * privacy.clipNorm;
  const noise = privacy.noise(sum.length, std);
  if (noise.length !== sum.length) {
    throw new FhirfedError('FHIRFED_ERR_TRAINING', `the DP-SGD noise source returned ${noise.length} values for a ${sum.length}-value gradient`);
  }
  for (let i = 0; i < sum.length; i++) sum[i] = ((sum[i] as number) + (noise[i] as number)) / expectedBatchSize;
  return sum;
}

/**
 * Poisson sampling: each row independently with probability q. The coin flips come from node:crypto, not from the
 * seeded PRNG: amplification by subsampling (what makes q < 1 cheap in the accountant) assumes nobody outside knows
 * which rows were drawn, and `hyper.seed` travels in job data.
 */
export function poissonSample(n: number, q: number): number[] {
  if (q >= 1) return Array.from({ length: n }, (_, i) => i);
  const bytes = randomBytes(4 * n);
  const cut = q * 2 ** 32;
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (bytes.readUInt32LE(4 * i) < cut) picked.push(i);
  return picked;
}

/** Refuses a malformed injected policy before any row is touched. */
export function checkSampleLevelPrivacy(p: SampleLevelPrivacy): void {
  const bad = (what: string, value: unknown, hint: string): never => {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `DP-SGD ${what} (got ${String(value)})`, { where: { path: 'privacy' }, hint });
  };
  if (!(p.clipNorm > 0) || !Number.isFinite(p.clipNorm)) bad('clip norm must be a finite number > 0', p.clipNorm, 'set privacy.clipNorm, e.g. 1');
  if (!(p.noiseMultiplier >= 0) || !Number.isFinite(p.noiseMultiplier)) {
    bad('noise multiplier must be a finite number >= 0', p.noiseMultiplier, 'set privacy.noiseMultiplier, e.g. 1, or plan it with planDpSgd');
  }
  if (typeof p.noise !== 'function') bad('policy has no noise source', typeof p.noise, 'build the policy with createDpSgdPolicy');
}

/** The accounting constants of a run: q = min(1, B / n), ceil(n / B) steps per epoch, expected batch q·n. */
export function dpSgdSchedule(nTrain: number, batchSize: number): { sampleRate: number; stepsPerEpoch: number; expectedBatchSize: number } {
  const sampleRate = Math.min(1, batchSize / nTrain);
  return { sampleRate, stepsPerEpoch: Math.ceil(nTrain / batchSize), expectedBatchSize: sampleRate * nTrain };
}

export interface DpEpochContext {
  readonly tf: Tf;
  readonly model: MultiTaskModel;
  readonly optimizer: tfTypes.Optimizer;
  readonly privacy: SampleLevelPrivacy;
  readonly xTrain: tfTypes.Tensor2D;
  readonly tTrain: tfTypes.Tensor2D;
  readonly batchSize: number;
  /** FedProx: the global weights and mu; the proximal gradient uses no data, so it is added after the noise. */
  readonly globalT: readonly tfTypes.Tensor[];
  readonly proxMu: number;
}

export interface DpEpochStats {
  readonly steps: number;
  readonly examples: number;
  readonly clipped: number;
  /** Mean per-example loss over the sampled rows (NaN if no row was drawn). */
  readonly meanLoss: number;
}

/** One epoch of DP-SGD: stepsPerEpoch Poisson-sampled noisy steps, each applied with the optimizer. */
export function dpSgdEpoch(c: DpEpochContext): DpEpochStats {
  const { tf, model } = c;
  const n = c.xTrain.shape[0];
  const { sampleRate, stepsPerEpoch, expectedBatchSize } = dpSgdSchedule(n, c.batchSize);
  let examples = 0;
  let clipped = 0;
  let lossSum = 0;
  for (let s = 0; s < stepsPerEpoch; s++) {
    const picked = poissonSample(n, sampleRate);
    let sum: Float32Array;
    if (picked.length === 0) {
      // An empty draw still takes a (pure-noise) step: skipping it would make the step count depend on the data.
      sum = new Float32Array(model.layout.total);
    } else {
      const [xb, tb] = tf.tidy(() => {
        const idx = tf.tensor1d(picked, 'int32');
        return [tf.gather(c.xTrain, idx), tf.gather(c.tTrain, idx)] as [tfTypes.Tensor2D, tfTypes.Tensor2D];
      });
      try {
        const g = clippedGradientSum(tf, model, xb, tb, c.privacy.clipNorm);
        sum = g.sum;
        clipped += g.clippedCount;
        lossSum += g.lossSum;
        examples += picked.length;
      } finally {
        tf.dispose([xb, tb]);
      }
    }
    const grad = privatizeSum(sum, c.privacy, expectedBatchSize);
    tf.tidy(() => {
      const parts = model.toTensors(grad);
      const named: Record<string, tfTypes.Tensor> = {};
      model.variables.forEach((v, k) => {
        const g = parts[k] as tfTypes.Tensor;
        named[v.name] = c.proxMu > 0 ? tf.add(g, tf.mul(tf.sub(v, c.globalT[k] as tfTypes.Tensor), c.proxMu)) : g;
      });
      c.optimizer.applyGradients(named);
    });
  }
  return { steps: stepsPerEpoch, examples, clipped, meanLoss: examples > 0 ? lossSum / examples : NaN };
}
