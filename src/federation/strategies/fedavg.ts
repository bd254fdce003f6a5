/**
 * FedAvg (McMahan et al. 2017): x_{t+1} = x_t + η · Σ_i w_i Δ_i / Σ_i w_i, with w_i = n_i (samples at site i)
 * unless adaptive weighting supplies other weights, and server learning rate η (1 = average of the local models).
 */
import { sgdApply, weightedMean, type Strategy } from './types.js';

export interface FedAvgOptions {
  /** η. @defaultValue 1 */
  readonly serverLr?: number;
}

export function fedAvg(options: FedAvgOptions = {}): Strategy {
  const lr = options.serverLr ?? 1;
  return {
    name: 'fedavg',
    needsIndividualUpdates: false,
    combine: weightedMean,
    apply: (global, delta, state) => ({ global: sgdApply(global, delta, lr), state }),
  };
}
