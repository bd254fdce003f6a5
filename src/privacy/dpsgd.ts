/**
 * Sample-level DP-SGD helpers (Abadi et al. 2016): clip each example's gradient to C, sum, add N(0, (z C)^2) to the
 * sum, divide by the expected batch size. The trainer computes per-example gradients (one Float32Array per example,
 * all the same length) and calls these; the accountant is then charged with q = expected batch / dataset size,
 * sigma = z, one step per batch.
 *
 * Dividing by the *expected* batch size (not the realised one) matches Opacus under Poisson sampling: the realised
 * size is itself private.
 */
import { FhirfedError } from '../core/errors.js';
import { clipL2 } from './clipping.js';
import { addGaussianNoise, type GaussianSource } from './noise.js';

export interface DpSgdOptions {
  /** Per-example L2 clip norm C. */
  readonly clipNorm: number;
  /** z: noise std / C. */
  readonly noiseMultiplier: number;
  /** Expected batch size (q * N). Defaults to the number of gradients passed. */
  readonly expectedBatchSize?: number;
  readonly source?: GaussianSource;
}

export interface ClippedSum {
  readonly sum: Float32Array;
  /** How many of the examples had to be scaled down (a tuning signal for C). */
  readonly clippedCount: number;
  readonly count: number;
}

/** Clips each per-example gradient (on a copy) and returns their sum, accumulated in double precision. */
export function clipAndSum(perExample: readonly Float32Array[], clipNorm: number, dim?: number): ClippedSum {
  const first = perExample[0];
  const d = dim ?? first?.length;
  if (d === undefined) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', 'no per-example gradients and no dimension given', {
      hint: 'pass the parameter count as `dim` for an empty batch (Poisson sampling can draw one)',
    });
  }
  const acc = new Float64Array(d);
  let clippedCount = 0;
  perExample.forEach((g, k) => {
    if (g.length !== d) {
      throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `gradient ${k} has ${g.length} entries, expected ${d}`, {
        hint: 'every per-example gradient must be flattened the same way',
      });
    }
    const copy = Float32Array.from(g);
    if (clipL2(copy, clipNorm).clipped) clippedCount++;
    for (let i = 0; i < d; i++) acc[i] = (acc[i] as number) + (copy[i] as number);
  });
  return { sum: Float32Array.from(acc), clippedCount, count: perExample.length };
}

/** Adds N(0, (z C)^2) to a clipped sum in place and divides by the expected batch size. */
export function privatizeGradientSum(sum: Float32Array, options: DpSgdOptions & { expectedBatchSize: number }): Float32Array {
  const b = options.expectedBatchSize;
  if (!(b > 0) || !Number.isFinite(b)) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `expected batch size must be a number > 0 (got ${b})`);
  }
  if (!Number.isFinite(options.noiseMultiplier) || options.noiseMultiplier < 0) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `noise multiplier must be finite and >= 0 (got ${options.noiseMultiplier})`);
  }
  addGaussianNoise(sum, options.noiseMultiplier * options.clipNorm, options.source);
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) / b;
  return sum;
}

export interface DpSgdStep {
  /** The noisy mean gradient to hand to the optimiser. */
  readonly gradient: Float32Array;
  readonly clippedCount: number;
  readonly count: number;
}

/** One DP-SGD step: per-example clip, sum, noise, average. */
export function dpSgdGradient(perExample: readonly Float32Array[], options: DpSgdOptions & { dim?: number }): DpSgdStep {
  const { sum, clippedCount, count } = clipAndSum(perExample, options.clipNorm, options.dim);
  const expectedBatchSize = options.expectedBatchSize ?? Math.max(1, count);
  const gradient = privatizeGradientSum(sum, { ...options, expectedBatchSize });
  return { gradient, clippedCount, count };
}
