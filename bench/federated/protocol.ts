/**
 * FLamby's Fed-Heart-Disease benchmark settings, as published in github.com/owkin/FLamby:
 *
 * - flamby/datasets/fed_heart_disease/common.py: BATCH_SIZE 4, LR 0.001, Adam for the single-center baselines,
 *   NUM_EPOCHS_POOLED 50, get_nb_max_rounds(100) = (486 // 4 // 4) · 50 // 100 = 15 rounds.
 * - flamby/benchmarks/fed_benchmark.py: strategies run with num_updates = 100 local SGD steps per round (client
 *   optimizer torch.optim.SGD); single-center runs use Adam at LR for NUM_EPOCHS_POOLED epochs; set_seed(seed)
 *   before each run; 5 seeds (results_benchmark_fed_heart_disease/heart_seed42..46.csv) on the fixed split.
 * - flamby/config_heart_disease.json (the version behind heart_seed42..46): FedAvg lr 0.001; FedProx lr 0.001, mu
 *   0.01; FedAdam client lr 0.01, server lr 0.01; FedYogi client lr 0.003162, server lr 0.01; beta1 0.9, beta2
 *   0.999, tau 1e-8 for both.
 * - flamby/strategies/fed_opt.py: aggregated delta = sample-weighted mean of (local − global); m, v start at 0, no
 *   bias correction, x += η·m / (√v + τ). fed_avg.py: weights = samples per client.
 * - flamby/datasets/fed_heart_disease/benchmark DP script (FedAvg with Opacus make_private_with_epsilon): LR 0.001,
 *   max_grad_norm 1.1, the same 15 rounds × 100 updates, seeds 42..46; the accuracy reported is the mean of the four
 *   per-center test accuracies, not the pooled-test accuracy.
 */

export const BATCH_SIZE = 4;
export const LOCAL_UPDATES = 100;
export const ROUNDS = 15;
export const POOLED_EPOCHS = 50;
export const CENTRAL_LR = 0.001;
export const SEEDS_FROM = 42;

export type StrategyId = 'fedavg' | 'fedprox' | 'fedadam' | 'fedyogi' | 'adaptive';

export interface StrategyHyper {
  readonly clientLr: number;
  readonly mu?: number;
  readonly serverLr?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly tau?: number;
}

export const STRATEGY_HYPER: Readonly<Record<StrategyId, StrategyHyper>> = {
  fedavg: { clientLr: 0.001 },
  fedprox: { clientLr: 0.001, mu: 0.01 },
  fedadam: { clientLr: 0.01, serverLr: 0.01, beta1: 0.9, beta2: 0.999, tau: 1e-8 },
  fedyogi: { clientLr: 0.003162, serverLr: 0.01, beta1: 0.9, beta2: 0.999, tau: 1e-8 },
  // fhirfed's adaptive weighting changes only the aggregation weights; everything else is FedAvg's.
  adaptive: { clientLr: 0.001 },
};

/** DP-SGD runs: FedAvg at FLamby's DP settings, with the noise planned for the steps actually taken. */
export const DP_CLIP_NORM = 1.1;
export const DP_LR = 0.001;
export const DP_TARGETS: readonly { readonly epsilon: number; readonly delta: number }[] = [
  { epsilon: 1, delta: 1e-3 },
  { epsilon: 0.1, delta: 1e-4 },
];

/** FLamby's published accuracies (mean of 5 seeds), from ../shared/datasets/heart-disease/PROVENANCE.md. */
export const FLAMBY = {
  pooled: 0.795,
  local: { 'heart-cleveland': 0.784, 'heart-hungary': 0.727, 'heart-switzerland': 0.483, 'heart-va': 0.611 } as Record<string, number>,
  fedavg: 0.748,
  fedprox: 0.748,
  fedadam: 0.779,
  fedyogi: 0.779,
  /** The DP figures are means of the per-center test accuracies (see above). */
  dpNone: 0.712,
  dp: { '1': 0.702, '0.1': 0.606 } as Record<string, number>,
} as const;
