/**
 * L2 clipping of a model update or gradient, fixed or adaptive.
 *
 * Adaptive clipping follows Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning with Adaptive
 * Clipping" (arXiv:1905.03871), Algorithm 1: each site reports b_i = 1 when its update norm is <= C (unclipped);
 * the server sums the b_i with Gaussian noise of std sigma_b, forms the noisy fraction b~ = (sum b_i + N(0,
 * sigma_b^2)) / m, and moves C geometrically toward the target quantile gamma: C <- C * exp(-eta * (b~ - gamma)).
 * The quantile query costs privacy too; the paper keeps the total at the update's noise multiplier z by using
 * z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) for the update (see `adaptiveUpdateNoiseMultiplier`).
 */
import { FhirfedError } from '../core/errors.js';

function bad(message: string, hint?: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', message, hint === undefined ? {} : { hint });
}

/** L2 norm, accumulated in double precision (a Float32 sum of 100k squares loses ~3 digits). */
export function l2Norm(v: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    s += x * x;
  }
  return Math.sqrt(s);
}

function checkClipNorm(clipNorm: number): void {
  if (!Number.isFinite(clipNorm) || clipNorm <= 0) {
    throw bad(`clip norm must be a finite number > 0 (got ${clipNorm})`, 'typical values are 0.1 to 10; start near the median update norm');
  }
}

/**
 * Scales `v` in place so that its L2 norm is at most `clipNorm`. Returns the norm before clipping and whether it
 * was scaled. A non-finite entry is refused: clipping NaN gives NaN and would silently void the sensitivity bound.
 */
export function clipL2(v: Float32Array, clipNorm: number): { norm: number; clipped: boolean } {
  checkClipNorm(clipNorm);
  const norm = l2Norm(v);
  if (!Number.isFinite(norm)) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', 'the update contains NaN or Infinity and cannot be clipped', {
      hint: 'lower the learning rate or check the features for non-finite values',
    });
  }
  if (norm <= clipNorm) return { norm, clipped: false };
  const scale = clipNorm / norm;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
  return { norm, clipped: true };
}

/** Parameters of the adaptive clip-norm estimator. */
export interface AdaptiveClipOptions {
  /** gamma: the fraction of sites whose updates should be unclipped (paper: 0.5 is a robust default). */
  readonly targetQuantile: number;
  /** eta_C: geometric learning rate of the clip norm (paper: 0.2). */
  readonly learningRate: number;
}

/** One round's observation at the server. */
export interface UnclippedObservation {
  /** Current clip norm C. */
  readonly clipNorm: number;
  /** sum_i b_i + N(0, sigma_b^2): the count of unclipped sites with the quantile query's noise already added. */
  readonly noisyUnclippedCount: number;
  /** m: the number of sites in the round (expected number under sampling). */
  readonly participants: number;
}

/**
 * The server-side estimator as a pure function: the next round's clip norm. The noisy fraction is not clamped to
 * [0, 1] before the update, as in the paper: clamping would bias the estimator.
 */
export function nextClipNorm(obs: UnclippedObservation, options: AdaptiveClipOptions): number {
  checkClipNorm(obs.clipNorm);
  if (!Number.isInteger(obs.participants) || obs.participants < 1) {
    throw bad(`participants must be a whole number >= 1 (got ${obs.participants})`);
  }
  if (!Number.isFinite(obs.noisyUnclippedCount)) throw bad(`noisy unclipped count must be finite (got ${obs.noisyUnclippedCount})`);
  if (!(options.targetQuantile >= 0 && options.targetQuantile <= 1)) {
    throw bad(`target quantile must be in [0, 1] (got ${options.targetQuantile})`, 'the paper recommends 0.5');
  }
  if (!(options.learningRate > 0) || !Number.isFinite(options.learningRate)) {
    throw bad(`clip learning rate must be a finite number > 0 (got ${options.learningRate})`, 'the paper recommends 0.2');
  }
  const fraction = obs.noisyUnclippedCount / obs.participants;
  return obs.clipNorm * Math.exp(-options.learningRate * (fraction - options.targetQuantile));
}

/** b_i: what a site reports for the quantile query. */
export function unclippedIndicator(updateNorm: number, clipNorm: number): 0 | 1 {
  return updateNorm <= clipNorm ? 1 : 0;
}

/**
 * The update's noise multiplier z_delta when the quantile query uses std sigma_b, so that the pair of queries
 * is as private as one Gaussian query with multiplier z (Andrew et al. 2021, Theorem 1). Throws when sigma_b is too
 * small for z (the quantile query alone would spend more than the budget).
 */
export function adaptiveUpdateNoiseMultiplier(z: number, countNoiseStd: number): number {
  if (!(z > 0) || !(countNoiseStd > 0)) throw bad('noise multiplier and count noise std must both be > 0');
  const inv = z ** -2 - (2 * countNoiseStd) ** -2;
  if (inv <= 0) {
    throw bad(`count noise std ${countNoiseStd} is too small for noise multiplier ${z}`, `use a count noise std > ${z / 2}`);
  }
  return inv ** -0.5;
}
