/**
 * FedProx (Li et al. 2020). The server side is FedAvg; what differs is the client objective: each site minimises
 * F_i(w) + (μ/2)·||w − w_t||², which keeps local models near the global one on heterogeneous data. That proximal
 * term is the trainer's option (`training.proxMu` / the round's `hyper.proxMu`), so this strategy only makes sure
 * rounds announce μ to the sites; with μ = 0 it is exactly FedAvg.
 */
import { fedAvg, type FedAvgOptions } from './fedavg.js';
import type { Strategy } from './types.js';

export interface FedProxOptions extends FedAvgOptions {
  /** μ, sent to the sites in the round's hyper-parameters. @defaultValue 0.01 */
  readonly mu?: number;
}

export function fedProx(options: FedProxOptions = {}): Strategy & { readonly mu: number } {
  return { ...fedAvg(options), name: 'fedprox', mu: options.mu ?? 0.01 };
}
