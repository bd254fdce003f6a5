/**
 * Aggregation strategies split in two steps, so the same server optimiser works with and without secure
 * aggregation:
 *
 *   1. combine: per-site deltas (local - global) + weights -> one aggregated delta Δ. With secure aggregation the
 *      aggregator never sees per-site deltas, only the weighted sum, so only the weighted mean is possible there;
 *      strategies with `needsIndividualUpdates` (median, trimmed mean) are refused in that case.
 *   2. apply: global x_t and Δ -> x_{t+1}, with optimiser state carried across rounds (FedAdam/FedYogi moments).
 *
 * All functions are pure: inputs are never modified, outputs are new arrays.
 */
import { FhirfedError } from '../../core/errors.js';
import type { QualityStats } from '../messages.js';

export interface SiteUpdate {
  readonly site: string;
  /** local weights minus the global weights the site started from. */
  readonly delta: Float32Array;
  readonly numSamples: number;
  readonly quality?: QualityStats | undefined;
}

/** Moments of the adaptive server optimisers; absent for plain averaging. */
export interface OptimizerState {
  readonly m?: Float32Array;
  readonly v?: Float32Array;
}

export interface Strategy {
  readonly name: string;
  /** true: the strategy needs each site's update in the clear (robust statistics). */
  readonly needsIndividualUpdates: boolean;
  /** Aggregated delta from per-site deltas; `weights` are non-negative, one per update, not necessarily normalised. */
  combine(updates: readonly SiteUpdate[], weights: readonly number[]): Float32Array;
  apply(global: Float32Array, delta: Float32Array, state: OptimizerState): { global: Float32Array; state: OptimizerState };
}

export function strategyError(message: string, hint?: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_FEDERATION', message, hint === undefined ? {} : { hint });
}

/** Every update must have the same length; returns it. */
export function commonLength(updates: readonly SiteUpdate[]): number {
  const first = updates[0];
  if (!first) throw strategyError('no updates to aggregate', 'a round needs at least one site update');
  for (const u of updates) {
    if (u.delta.length !== first.delta.length) {
      throw strategyError(`update of ${u.site} has ${u.delta.length} values, ${first.site}'s has ${first.delta.length}`, 'all sites must train the same model architecture');
    }
  }
  return first.delta.length;
}

/** Σ w_i x_i / Σ w_i, accumulated in float64 so many small weights do not lose precision. */
export function weightedMean(updates: readonly SiteUpdate[], weights: readonly number[]): Float32Array {
  const n = commonLength(updates);
  if (weights.length !== updates.length) throw strategyError(`got ${weights.length} weights for ${updates.length} updates`);
  let total = 0;
  for (const w of weights) {
    if (!(w >= 0) || !Number.isFinite(w)) throw strategyError(`aggregation weight ${w} is not a finite non-negative number`);
    total += w;
  }
  if (total <= 0) throw strategyError('all aggregation weights are zero', 'check the sites\' sample counts and quality statistics');
  const acc = new Float64Array(n);
  updates.forEach((u, k) => {
    const w = (weights[k] as number) / total;
    if (w === 0) return;
    for (let i = 0; i < n; i++) acc[i] = (acc[i] as number) + w * (u.delta[i] as number);
  });
  return Float32Array.from(acc);
}

/** x + lr·Δ: the server step of FedAvg / FedProx (lr = 1 gives the plain average of the local models). */
export function sgdApply(global: Float32Array, delta: Float32Array, lr: number): Float32Array {
  if (global.length !== delta.length) {
    throw strategyError(`the aggregated update has ${delta.length} values but the global model ${global.length}`, 'the sites trained a different model architecture than the aggregator serves');
  }
  const out = new Float32Array(global.length);
  for (let i = 0; i < out.length; i++) out[i] = (global[i] as number) + lr * (delta[i] as number);
  return out;
}

/** Samples per site: the classic FedAvg weights. */
export const sampleWeights = (updates: readonly SiteUpdate[]): number[] => updates.map((u) => u.numSamples);
