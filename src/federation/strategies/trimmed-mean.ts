/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for each coordinate, drop the ⌊β·k⌋ smallest and ⌊β·k⌋ largest
 * of the k site values and average the rest. β = trimFraction in [0, 0.5). Unweighted, like the median, and
 * refused when secure aggregation is on (it needs each update in the clear).
 */
import { commonLength, sgdApply, strategyError, type SiteUpdate, type Strategy } from './types.js';

export function trimmedMean(updates: readonly SiteUpdate[], trimFraction: number): Float32Array {
  if (!(trimFraction >= 0 && trimFraction < 0.5)) throw strategyError(`trimFraction must be in [0, 0.5) (got ${trimFraction})`);
  const n = commonLength(updates);
  const k = updates.length;
  const cut = Math.floor(trimFraction * k);
  const keep = k - 2 * cut;
  const out = new Float32Array(n);
  const col = new Float64Array(k);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < k; i++) col[i] = (updates[i] as SiteUpdate).delta[j] as number;
    col.sort();
    let s = 0;
    for (let i = cut; i < k - cut; i++) s += col[i] as number;
    out[j] = s / keep;
  }
  return out;
}

export function trimmedMeanStrategy(options: { trimFraction?: number; serverLr?: number } = {}): Strategy {
  const beta = options.trimFraction ?? 0.1;
  const lr = options.serverLr ?? 1;
  trimmedMean([{ site: 'check', delta: new Float32Array(1), numSamples: 1 }], beta);
  return {
    name: 'trimmed-mean',
    needsIndividualUpdates: true,
    combine: (updates) => trimmedMean(updates, beta),
    apply: (global, delta, state) => ({ global: sgdApply(global, delta, lr), state }),
  };
}
