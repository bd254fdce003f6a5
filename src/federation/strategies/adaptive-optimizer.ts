/**
 * Shared body of the adaptive server optimisers of Reddi et al. 2021, "Adaptive Federated Optimization",
 * Algorithm 2. With Δ_t the weighted mean of the site deltas (a pseudo-gradient pointing downhill):
 *
 *   m_t = β1·m_{t−1} + (1 − β1)·Δ_t
 *   v_t = β2·v_{t−1} + (1 − β2)·Δ_t²                       (FedAdam)
 *   v_t = v_{t−1} − (1 − β2)·Δ_t²·sign(v_{t−1} − Δ_t²)     (FedYogi)
 *   x_{t+1} = x_t + η·m_t / (√v_t + τ)
 *
 * As in the paper there is no bias correction; m starts at 0 and v at τ² (the paper requires v_{−1} ≥ τ²).
 */
import { strategyError, weightedMean, type OptimizerState, type Strategy } from './types.js';

export interface AdaptiveOptions {
  /** η, server learning rate. @defaultValue 0.1 */
  readonly serverLr?: number;
  /** @defaultValue 0.9 */
  readonly beta1?: number;
  /** @defaultValue 0.99 */
  readonly beta2?: number;
  /** τ, adaptivity: larger τ behaves more like FedAvg with momentum. @defaultValue 1e-3 */
  readonly tau?: number;
}

export function adaptiveStrategy(name: 'fedadam' | 'fedyogi', options: AdaptiveOptions): Strategy {
  const lr = options.serverLr ?? 0.1;
  const b1 = options.beta1 ?? 0.9;
  const b2 = options.beta2 ?? 0.99;
  const tau = options.tau ?? 1e-3;
  for (const [k, val] of [['beta1', b1], ['beta2', b2]] as const) {
    if (!(val >= 0 && val < 1)) throw strategyError(`${name}: ${k} must be in [0, 1) (got ${val})`);
  }
  if (!(tau > 0)) throw strategyError(`${name}: tau must be > 0 (got ${tau})`);
  return {
    name,
    needsIndividualUpdates: false,
    combine: weightedMean,
    apply(global: Float32Array, delta: Float32Array, state: OptimizerState) {
      const n = global.length;
      if (delta.length !== n) throw strategyError(`the aggregated update has ${delta.length} values but the global model ${n}`);
      const m = state.m && state.m.length === n ? Float32Array.from(state.m) : new Float32Array(n);
      const v = state.v && state.v.length === n ? Float32Array.from(state.v) : new Float32Array(n).fill(tau * tau);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const d = delta[i] as number;
        const d2 = d * d;
        const mi = b1 * (m[i] as number) + (1 - b1) * d;
        const vPrev = v[i] as number;
        const vi = name === 'fedadam' ? b2 * vPrev + (1 - b2) * d2 : vPrev - (1 - b2) * d2 * Math.sign(vPrev - d2);
        m[i] = mi;
        v[i] = vi;
        out[i] = (global[i] as number) + (lr * mi) / (Math.sqrt(vi) + tau);
      }
      return { global: out, state: { m, v } };
    },
  };
}
