/**
 * Adaptive site weights from data quality and distribution similarity (off by default; `weighting: adaptive`).
 * Each site i reports PHI-free statistics with its update (messages.ts `quality`). Its weight is
 *
 *   w_i = n_i · q_i · s_i
 *
 * - quality   q_i = fill_i · (1 − pf_i), with fill_i the share of expected feature cells present and pf_i the
 *   share of present values that failed plausibility checks (a missing statistic counts as 1 resp. 0).
 * - similarity s_i = exp(−λ · D_i), where D_i is the mean of the available divergences:
 *     labels:   D_lab,i = mean over heads h of JS(Bern(p_ih) ‖ Bern(p̄_h)), the Jensen-Shannon divergence in bits
 *               (in [0, 1]) between the site's positive rate and the sample-weighted federation rate p̄_h.
 *     features: D_feat,i = mean over features f of z² / (1 + z²), z = (μ_if − μ̄_f) / (σ_f + ε), where μ̄_f and σ_f
 *               are the sample-weighted mean and standard deviation of the site means (bounded in [0, 1)).
 *   λ (`lambda`) sets how hard outlying sites are down-weighted; λ = 0 disables the similarity term.
 *
 * Weights only rescale contributions; a site is never excluded (q_i and s_i stay > 0 unless fill_i = 0 or
 * pf_i = 1), so a site whose population truly differs still teaches the model, only less.
 */
import type { SiteUpdate } from './types.js';

export interface AdaptiveWeightingOptions {
  /** λ. @defaultValue 2 */
  readonly lambda?: number;
}

const EPS = 1e-9;

function entropyBits(p: number): number {
  const h = (x: number): number => (x <= 0 ? 0 : -x * Math.log2(x));
  return h(p) + h(1 - p);
}

/** Jensen-Shannon divergence (bits) between Bernoulli(p) and Bernoulli(q). */
export function bernoulliJs(p: number, q: number): number {
  const m = (p + q) / 2;
  return Math.max(0, entropyBits(m) - (entropyBits(p) + entropyBits(q)) / 2);
}

export function qualityFactor(u: SiteUpdate): number {
  const fill = u.quality?.fillRate ?? 1;
  const pf = u.quality?.plausibilityFailureRate ?? 0;
  return fill * (1 - pf);
}

function weightedStats(pairs: readonly { x: number; n: number }[]): { mean: number; sd: number } {
  const total = pairs.reduce((s, p) => s + p.n, 0);
  const mean = pairs.reduce((s, p) => s + p.n * p.x, 0) / total;
  const variance = pairs.reduce((s, p) => s + p.n * (p.x - mean) ** 2, 0) / total;
  return { mean, sd: Math.sqrt(variance) };
}

/** D_i for every site (0 when a site reports no distribution statistics). */
export function divergences(updates: readonly SiteUpdate[]): number[] {
  const heads = new Set<string>();
  const feats = new Set<string>();
  for (const u of updates) {
    for (const h of Object.keys(u.quality?.labelPrevalence ?? {})) heads.add(h);
    for (const f of Object.keys(u.quality?.featureMeans ?? {})) feats.add(f);
  }
  const labelRef = new Map<string, number>();
  for (const h of heads) {
    const pairs = updates.flatMap((u) => (u.quality?.labelPrevalence?.[h] === undefined ? [] : [{ x: u.quality.labelPrevalence[h], n: u.numSamples }]));
    labelRef.set(h, weightedStats(pairs).mean);
  }
  const featRef = new Map<string, { mean: number; sd: number }>();
  for (const f of feats) {
    const pairs = updates.flatMap((u) => (u.quality?.featureMeans?.[f] === undefined ? [] : [{ x: u.quality.featureMeans[f], n: u.numSamples }]));
    featRef.set(f, weightedStats(pairs));
  }
  return updates.map((u) => {
    const parts: number[] = [];
    const lab = Object.entries(u.quality?.labelPrevalence ?? {}).map(([h, p]) => bernoulliJs(p, labelRef.get(h) as number));
    if (lab.length > 0) parts.push(lab.reduce((a, b) => a + b, 0) / lab.length);
    const fe = Object.entries(u.quality?.featureMeans ?? {}).map(([f, mu]) => {
      const ref = featRef.get(f) as { mean: number; sd: number };
      const z = (mu - ref.mean) / (ref.sd + EPS);
      return (z * z) / (1 + z * z);
    });
    if (fe.length > 0) parts.push(fe.reduce((a, b) => a + b, 0) / fe.length);
    return parts.length === 0 ? 0 : parts.reduce((a, b) => a + b, 0) / parts.length;
  });
}

/** w_i = n_i · q_i · exp(−λ·D_i), unnormalised. */
export function adaptiveWeights(updates: readonly SiteUpdate[], options: AdaptiveWeightingOptions = {}): number[] {
  const lambda = options.lambda ?? 2;
  const d = divergences(updates);
  return updates.map((u, i) => u.numSamples * qualityFactor(u) * Math.exp(-lambda * (d[i] as number)));
}
