/**
 * Noise for each site's DP-SGD run, from the RDP accountant in src/privacy. Each site protects its own records, so
 * each gets the smallest noise multiplier z whose epsilon, after ALL the Poisson-sampled steps it takes over all
 * rounds (q = B / n_train, ROUNDS × LOCAL_UPDATES steps), is at most the target.
 *
 * Why not planDpSgd: it counts whole local epochs (ceil(n / B) steps each), while FLamby's schedule is a fixed 100
 * steps per round whatever the site's size; so the same accountant (epsilonForDpSgd) is bisected for the exact step
 * count. FLamby itself asks Opacus for `epochs = nrounds` (15 · n/B steps), which under-counts the 1500 steps a site
 * really takes (2× at Cleveland, 12.5× at Switzerland): its DP figures rest on less noise than their epsilon needs.
 */
import { FhirfedError } from '../../src/core/errors.js';
import { epsilonForDpSgd } from '../../src/privacy/dpsgd-policy.js';

export interface SiteDpPlan {
  readonly n: number;
  readonly sampleRate: number;
  readonly steps: number;
  readonly noiseMultiplier: number;
  /** The accountant's epsilon at that noise: <= the target. */
  readonly epsilon: number;
  readonly delta: number;
}

export function planSiteDp(n: number, batchSize: number, steps: number, targetEpsilon: number, delta: number): SiteDpPlan {
  const sampleRate = Math.min(1, batchSize / n);
  const eps = (z: number): number => epsilonForDpSgd({ noiseMultiplier: z, sampleRate, steps, delta });
  let lo = 0;
  let hi = 1;
  let epsHi = eps(hi);
  while (epsHi > targetEpsilon) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `no noise multiplier reaches epsilon ${targetEpsilon} in ${steps} steps`, { hint: 'raise the target epsilon' });
    epsHi = eps(hi);
  }
  // Bisect to 0.5 % below the target: epsilon falls continuously as z grows, so hi always stays within budget.
  for (let i = 0; i < 100 && epsHi < targetEpsilon * 0.995; i++) {
    const mid = (lo + hi) / 2;
    const e = eps(mid);
    if (e > targetEpsilon) lo = mid;
    else [hi, epsHi] = [mid, e];
  }
  return { n, sampleRate, steps, noiseMultiplier: hi, epsilon: epsHi, delta };
}
