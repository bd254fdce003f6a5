/**
 * Every run of the benchmark over several training seeds. As in FLamby, the train/test split stays fixed and the
 * seed varies the model initialisation (shared by all runs of a seed, like FLamby's `global_init`) and the batch
 * order; DP noise and Poisson sampling come from the CSPRNG and so differ on every run.
 */
import { createRng } from '../../src/training/rng.js';
import { planSiteDp, type SiteDpPlan } from './dp-plan.js';
import { initParams } from './logreg.js';
import type { Prepared } from './prepare.js';
import { BATCH_SIZE, DP_CLIP_NORM, DP_LR, DP_TARGETS, FLAMBY, LOCAL_UPDATES, ROUNDS, type StrategyId } from './protocol.js';
import { evaluate, runFederated, trainCentral, type Scores } from './runs.js';

export interface RunResult {
  readonly id: string;
  readonly label: string;
  /** FLamby's published accuracy for this run, if any. */
  readonly flamby?: number;
  /** Which of our accuracies FLamby's number is comparable with. */
  readonly flambyMetric: 'pooled' | 'center-mean';
  readonly scores: readonly Scores[];
  readonly note?: string;
}

export interface SuiteOptions {
  readonly seeds: readonly number[];
  /** Fewer rounds/epochs for a quick test; defaults are FLamby's. */
  readonly rounds?: number;
  readonly localUpdates?: number;
  readonly pooledEpochs?: number;
  /** Which DP targets to run. @defaultValue all of DP_TARGETS */
  readonly dpTargets?: readonly { readonly epsilon: number; readonly delta: number }[];
}

export interface SuiteResult {
  readonly runs: RunResult[];
  readonly dpPlans: { readonly epsilon: number; readonly delta: number; readonly sites: readonly (SiteDpPlan & { site: string })[] }[];
}

const STRATEGIES: readonly { id: StrategyId; label: string; flamby?: number; note?: string }[] = [
  { id: 'fedavg', label: 'FedAvg', flamby: FLAMBY.fedavg },
  { id: 'fedprox', label: 'FedProx (μ 0.01)', flamby: FLAMBY.fedprox },
  { id: 'fedadam', label: 'FedAdam', flamby: FLAMBY.fedadam },
  { id: 'fedyogi', label: 'FedYogi', flamby: FLAMBY.fedyogi },
  { id: 'adaptive', label: 'fhirfed adaptive weighting (FedAvg server)', note: 'weights n·quality·exp(−2·divergence) from PHI-free site statistics' },
];

export function runSuite(prep: Prepared, o: SuiteOptions): SuiteResult {
  const rounds = o.rounds ?? ROUNDS;
  const localUpdates = o.localUpdates ?? LOCAL_UPDATES;
  const inits = new Map(o.seeds.map((s) => [s, initParams(createRng(s))]));
  const over = (fn: (seed: number, init: Float64Array) => Scores): Scores[] => o.seeds.map((s) => fn(s, inits.get(s) as Float64Array));
  const runs: RunResult[] = [];

  runs.push({
    id: 'pooled',
    label: 'Pooled training (all train rows)',
    flamby: FLAMBY.pooled,
    flambyMetric: 'pooled',
    scores: over((seed, init) => evaluate(trainCentral(prep.pooledTrain, init, seed, o.pooledEpochs), prep, true)),
    note: 'pooled-train standardisation, as FLamby',
  });
  for (const site of prep.sites) {
    runs.push({
      id: `local-${site.site}`,
      label: `Local only: ${site.name} (${site.format === 'fhir' ? 'FHIR' : 'HL7 v2'}, ${site.train.n} train)`,
      ...(FLAMBY.local[site.site] === undefined ? {} : { flamby: FLAMBY.local[site.site] }),
      flambyMetric: 'pooled',
      scores: over((seed, init) => evaluate(trainCentral(site.train, init, seed, o.pooledEpochs), prep)),
    });
  }
  for (const s of STRATEGIES) {
    runs.push({
      id: s.id,
      label: s.label,
      ...(s.flamby === undefined ? {} : { flamby: s.flamby }),
      flambyMetric: 'pooled',
      scores: over((seed, init) => evaluate(runFederated(prep, init, seed, { strategy: s.id, rounds, localUpdates }), prep)),
      ...(s.note ? { note: s.note } : {}),
    });
  }

  const dpPlans: SuiteResult['dpPlans'] = [];
  const fedavgScores = runs.find((r) => r.id === 'fedavg')?.scores ?? [];
  runs.push({ id: 'dp-none', label: 'FedAvg, DP settings, no DP', flamby: FLAMBY.dpNone, flambyMetric: 'center-mean', scores: fedavgScores, note: 'same run as FedAvg' });
  for (const t of o.dpTargets ?? DP_TARGETS) {
    const plans = prep.sites.map((s) => ({ site: s.site, ...planSiteDp(s.train.n, BATCH_SIZE, rounds * localUpdates, t.epsilon, t.delta) }));
    dpPlans.push({ ...t, sites: plans });
    const flamby = FLAMBY.dp[String(t.epsilon)];
    runs.push({
      id: `dp-${t.epsilon}`,
      label: `FedAvg + DP-SGD ε=${t.epsilon}, δ=${t.delta}`,
      ...(flamby === undefined ? {} : { flamby }),
      flambyMetric: 'center-mean',
      scores: over((seed, init) =>
        evaluate(runFederated(prep, init, seed, { strategy: 'fedavg', rounds, localUpdates, clientLr: DP_LR, dp: plans, clipNorm: DP_CLIP_NORM }), prep),
      ),
      note: `z = ${plans.map((p) => p.noiseMultiplier.toFixed(2)).join('/')}, C = ${DP_CLIP_NORM}`,
    });
  }
  return { runs, dpPlans };
}
