/** Mean ± sd over seeds, the markdown table (side by side with FLamby) and the rows for bench/run.ts. */
import type { BenchResult } from '../lib/types.js';
import type { Scores } from './runs.js';
import type { RunResult, SuiteResult } from './suite.js';

export interface Summary {
  readonly mean: number;
  readonly sd: number;
}

/** Mean and sample sd (0 for a single seed); NaN values (an undefined AUROC) are left out. */
export function summarise(xs: readonly number[]): Summary {
  const v = xs.filter((x) => !Number.isNaN(x));
  if (v.length === 0) return { mean: Number.NaN, sd: Number.NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, sd };
}

const of = (r: RunResult, k: keyof Scores): Summary => summarise(r.scores.map((s) => s[k]));
const pm = (s: Summary): string => (Number.isNaN(s.mean) ? 'n/a' : `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`);

/** The accuracy FLamby's published number is comparable with. */
export function comparable(r: RunResult): Summary {
  return of(r, r.flambyMetric === 'pooled' ? 'accuracy' : 'centerMeanAccuracy');
}

export function markdownTable(suite: SuiteResult, seeds: readonly number[]): string {
  const lines = [
    `| run | accuracy, pooled test (FLamby's eval) | FLamby | AUROC | F1 | accuracy, pooled test, center-standardised | mean of per-center accuracies | notes |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of suite.runs) {
    const flamby = r.flamby === undefined ? '—' : r.flambyMetric === 'pooled' ? r.flamby.toFixed(3) : `${r.flamby.toFixed(3)} †`;
    lines.push(
      `| ${r.label} | ${pm(of(r, 'accuracy'))} | ${flamby} | ${pm(of(r, 'auroc'))} | ${pm(of(r, 'f1'))} | ${pm(of(r, 'accuracyCenterNorm'))} | ${pm(of(r, 'centerMeanAccuracy'))} | ${r.note ?? ''} |`,
    );
  }
  lines.push(
    '',
    `Mean ± sd over ${seeds.length} training seed${seeds.length === 1 ? '' : 's'} (${seeds.join(', ')}) on the fixed split; accuracy and F1 at threshold 0.5.`,
    '"FLamby\'s eval" scores all 254 test rows standardised with the pooled train statistics, as FLamby\'s pooled test',
    'loader does; "center-standardised" standardises each center\'s test rows with that center\'s own train statistics',
    '(what a federation can do without pooling statistics). † FLamby reports its DP runs as the mean of the four',
    'per-center test accuracies: compare with the last column but one.',
  );
  return lines.join('\n');
}

export function dpPlanLines(suite: SuiteResult): string {
  return suite.dpPlans
    .map(
      (p) =>
        `DP ε=${p.epsilon} δ=${p.delta}: ` +
        p.sites.map((s) => `${s.site} q=${s.sampleRate.toFixed(4)} steps=${s.steps} z=${s.noiseMultiplier.toFixed(3)} → ε=${s.epsilon.toFixed(4)}`).join('; '),
    )
    .join('\n');
}

export function benchResults(suite: SuiteResult): BenchResult[] {
  const fedavg = suite.runs.find((r) => r.id === 'fedavg');
  return suite.runs
    .filter((r) => r.id !== 'dp-none')
    .map((r): BenchResult => {
      const c = comparable(r);
      const auc = of(r, 'auroc');
      const f1 = of(r, 'f1');
      const metric = r.flambyMetric === 'pooled' ? 'accuracy (pooled test)' : 'accuracy (mean of centers)';
      const notes = `±${c.sd.toFixed(3)}; AUROC ${auc.mean.toFixed(3)}, F1 ${f1.mean.toFixed(3)}${r.flambyMetric === 'pooled' ? '' : `, pooled-test accuracy ${of(r, 'accuracy').mean.toFixed(3)}`}`;
      if (r.flamby !== undefined) return { name: r.label, metric, value: c.mean, baseline: `FLamby ${r.flamby}`, ratio: c.mean / r.flamby, notes };
      // No published number (fhirfed's adaptive weighting): compare with FedAvg measured in this run.
      const base = fedavg ? comparable(fedavg).mean : c.mean;
      return { name: r.label, metric, value: c.mean, baseline: `FedAvg here ${base.toFixed(3)}`, ratio: c.mean / base, notes };
    });
}
