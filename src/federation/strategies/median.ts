/**
 * Coordinate-wise median (Yin et al. 2018): Δ[j] = median_i Δ_i[j], the middle value (mean of the two middle
 * values for an even count). Robust to fewer than half of the sites sending arbitrary updates. Unweighted by
 * design: weighting by sample count would let one site claiming many samples move the median. Needs each site's
 * update in the clear, so it is refused when secure aggregation is on.
 */
import { commonLength, sgdApply, type SiteUpdate, type Strategy } from './types.js';

export function coordinateMedian(updates: readonly SiteUpdate[]): Float32Array {
  const n = commonLength(updates);
  const k = updates.length;
  const out = new Float32Array(n);
  const col = new Float64Array(k);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < k; i++) col[i] = (updates[i] as SiteUpdate).delta[j] as number;
    col.sort();
    const mid = k >> 1;
    out[j] = k % 2 === 1 ? (col[mid] as number) : ((col[mid - 1] as number) + (col[mid] as number)) / 2;
  }
  return out;
}

export function median(options: { serverLr?: number } = {}): Strategy {
  const lr = options.serverLr ?? 1;
  return {
    name: 'median',
    needsIndividualUpdates: true,
    combine: (updates) => coordinateMedian(updates),
    apply: (global, delta, state) => ({ global: sgdApply(global, delta, lr), state }),
  };
}
