/**
 * The benchmark's training runs on prepared matrices: single-center (local-only, pooled) and federated rounds
 * through fhirfed's aggregation strategies (src/federation/strategies: combine + apply, pure functions), optionally
 * with DP-SGD at every site. Model and schedule follow FLamby (protocol.ts).
 */
import { adaptiveWeights, sampleWeights, type SiteUpdate, type Strategy, type OptimizerState } from '../../src/federation/strategies/index.js';
import { fedAdam } from '../../src/federation/strategies/fedadam.js';
import { fedAvg } from '../../src/federation/strategies/fedavg.js';
import { fedProx } from '../../src/federation/strategies/fedprox.js';
import { fedYogi } from '../../src/federation/strategies/fedyogi.js';
import { accuracy, auroc, confusion, f1Score } from '../../src/training/metrics.js';
import { createRng, deriveSeed } from '../../src/training/rng.js';
import type { Matrix } from './design.js';
import type { SiteDpPlan } from './dp-plan.js';
import { Adam, BatchStream, dpGradient, meanGradient, poissonBatch, predict, sgdStep, PARAMS } from './logreg.js';
import type { Prepared, SiteData } from './prepare.js';
import { BATCH_SIZE, CENTRAL_LR, LOCAL_UPDATES, POOLED_EPOCHS, ROUNDS, STRATEGY_HYPER, type StrategyId } from './protocol.js';

export interface Scores {
  /** Pooled test set (all centers' test rows) standardised with the pooled train statistics: FLamby's "Pooled Test". */
  readonly accuracy: number;
  readonly auroc: number;
  readonly f1: number;
  /** Pooled test set with each center's rows standardised by that center's own train statistics. */
  readonly accuracyCenterNorm: number;
  /** Mean of the four per-center test accuracies, center statistics (how FLamby reports its DP runs). */
  readonly centerMeanAccuracy: number;
}

function score(w: ArrayLike<number>, m: Matrix): { acc: number; auc: number; f1: number } {
  const p = predict(w, m);
  const c = confusion(p, m.y, 0.5);
  return { acc: accuracy(c), auc: auroc(p, m.y) ?? Number.NaN, f1: f1Score(c) };
}

/**
 * All accuracies at threshold 0.5. FLamby's pooled test loader standardises every test row with the POOLED train
 * statistics, also for local and federated models trained on per-center standardised rows; that is the primary
 * number, comparable with FLamby's table. `pooledModel`: the pooled baseline, which never saw center statistics.
 */
export function evaluate(w: ArrayLike<number>, prep: Prepared, pooledModel = false): Scores {
  const flamby = score(w, prep.pooledTestPooledNorm);
  const centers = prep.sites.map((s) => score(w, pooledModel ? s.testPooledNorm : s.test).acc);
  return {
    accuracy: flamby.acc,
    auroc: flamby.auc,
    f1: flamby.f1,
    accuracyCenterNorm: pooledModel ? flamby.acc : score(w, prep.pooledTest).acc,
    centerMeanAccuracy: centers.reduce((a, b) => a + b, 0) / centers.length,
  };
}

/** Single-center training as FLamby's train_single_centric: Adam, LR 0.001, batch 4, 50 epochs. */
export function trainCentral(train: Matrix, init: Float64Array, seed: number, epochs = POOLED_EPOCHS): Float64Array {
  const w = Float64Array.from(init);
  const opt = new Adam(CENTRAL_LR);
  const stream = new BatchStream(train.n, BATCH_SIZE, createRng(deriveSeed(seed, 0)));
  const steps = epochs * Math.ceil(train.n / BATCH_SIZE);
  for (let s = 0; s < steps; s++) opt.step(w, meanGradient(w, train, stream.next()));
  return w;
}

export interface FederatedOptions {
  readonly strategy: StrategyId;
  readonly rounds?: number;
  readonly localUpdates?: number;
  /** Client learning rate override (DP runs use FLamby's DP setting). */
  readonly clientLr?: number;
  /** Per-site DP-SGD plans, in site order; absent: plain SGD. */
  readonly dp?: readonly SiteDpPlan[];
  readonly clipNorm?: number;
}

export function buildStrategy(id: StrategyId): Strategy {
  const h = STRATEGY_HYPER[id];
  // FLamby's FedOpt defaults where the config is silent (fed_opt.py).
  const adaptive = { serverLr: h.serverLr ?? 0.01, beta1: h.beta1 ?? 0.9, beta2: h.beta2 ?? 0.999, tau: h.tau ?? 1e-8 };
  switch (id) {
    case 'fedavg':
    case 'adaptive':
      return fedAvg();
    case 'fedprox':
      return fedProx({ mu: h.mu ?? 0.01 });
    case 'fedadam':
      return fedAdam(adaptive);
    case 'fedyogi':
      return fedYogi(adaptive);
  }
}

interface LocalStep {
  readonly site: SiteData;
  readonly stream: BatchStream;
  readonly dp?: SiteDpPlan | undefined;
}

/** One site's local work for one round: `updates` SGD steps from the global model; returns local − global. */
function localUpdate(global: Float32Array, s: LocalStep, updates: number, lr: number, mu: number, clipNorm: number): Float32Array {
  const w = Float64Array.from(global);
  for (let u = 0; u < updates; u++) {
    let g: Float64Array;
    if (s.dp) {
      const rows = poissonBatch(s.site.train.n, s.dp.sampleRate);
      g = dpGradient(w, s.site.train, rows, clipNorm, s.dp.noiseMultiplier, s.dp.sampleRate * s.site.train.n).grad;
    } else {
      g = meanGradient(w, s.site.train, s.stream.next());
    }
    // FedProx: the gradient of (μ/2)·|w − w_t|² is μ·(w − w_t).
    if (mu > 0) for (let j = 0; j < PARAMS; j++) g[j] = (g[j] as number) + mu * ((w[j] as number) - (global[j] as number));
    sgdStep(w, g, lr);
  }
  const delta = new Float32Array(PARAMS);
  for (let j = 0; j < PARAMS; j++) delta[j] = (w[j] as number) - (global[j] as number);
  return delta;
}

/** Rounds of local training + aggregation; returns the final global model. */
export function runFederated(prep: Prepared, init: Float64Array, seed: number, o: FederatedOptions): Float32Array {
  const strategy = buildStrategy(o.strategy);
  const h = STRATEGY_HYPER[o.strategy];
  const lr = o.clientLr ?? h.clientLr;
  const mu = o.strategy === 'fedprox' ? (h.mu ?? 0) : 0;
  const steps: LocalStep[] = prep.sites.map((site, i) => ({
    site,
    stream: new BatchStream(site.train.n, BATCH_SIZE, createRng(deriveSeed(seed, i + 1))),
    dp: o.dp?.[i],
  }));
  let global: Float32Array = Float32Array.from(init);
  let state: OptimizerState = {};
  for (let r = 0; r < (o.rounds ?? ROUNDS); r++) {
    const updates: SiteUpdate[] = steps.map((s) => ({
      site: s.site.site,
      delta: localUpdate(global, s, o.localUpdates ?? LOCAL_UPDATES, lr, mu, o.clipNorm ?? 1),
      numSamples: s.site.train.n,
      quality: s.site.quality,
    }));
    const weights = o.strategy === 'adaptive' ? adaptiveWeights(updates) : sampleWeights(updates);
    const next = strategy.apply(global, strategy.combine(updates, weights), state);
    global = next.global;
    state = next.state;
  }
  return global;
}

/** The aggregation weights adaptive weighting gives each site (normalised), for the report. */
export function adaptiveShares(prep: Prepared): Record<string, number> {
  const updates: SiteUpdate[] = prep.sites.map((s) => ({ site: s.site, delta: new Float32Array(PARAMS), numSamples: s.train.n, quality: s.quality }));
  const w = adaptiveWeights(updates);
  const total = w.reduce((a, b) => a + b, 0);
  return Object.fromEntries(prep.sites.map((s, i) => [s.site, (w[i] as number) / total]));
}
