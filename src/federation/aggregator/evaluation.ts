/**
 * Federated evaluation and early stopping. Each selected site reports holdout metrics of the global model version
 * it started the round from. The version's score is the holdout-size-weighted mean over sites and heads:
 *
 *   score(V) = Σ_site Σ_head n_sh · metric_sh / Σ_site Σ_head n_sh     (heads without a metric, e.g. AUROC on a
 *                                                                       one-class holdout, are left out)
 *
 * The best version so far is kept; when `patience` consecutive scored versions fail to beat it by more than
 * `minDelta`, the federation stops early and serves the best version.
 */
import type { EvaluationReport } from '../messages.js';

export type MetricName = 'auroc' | 'f1';

export function weightedScore(reports: Readonly<Record<string, EvaluationReport['heads']>>, metric: MetricName): { score: number; sites: number } | undefined {
  let num = 0;
  let den = 0;
  let sites = 0;
  for (const heads of Object.values(reports)) {
    let used = false;
    for (const h of Object.values(heads)) {
      const m = metric === 'auroc' ? h.auroc : h.f1;
      if (m === null || h.n <= 0) continue;
      num += h.n * m;
      den += h.n;
      used = true;
    }
    if (used) sites++;
  }
  return den > 0 ? { score: num / den, sites } : undefined;
}

export interface EarlyStoppingState {
  best?: { version: string; metric: number };
  sinceBest: number;
}

/** Folds one version's score into the state; returns true when the federation should stop. */
export function observeScore(state: EarlyStoppingState, version: string, score: number, opts: { patience: number; minDelta: number }): boolean {
  if (!state.best || score > state.best.metric + opts.minDelta) {
    state.best = { version, metric: score };
    state.sinceBest = 0;
    return false;
  }
  state.sinceBest += 1;
  return opts.patience > 0 && state.sinceBest >= opts.patience;
}
