import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { adaptiveWeights, bernoulliJs, divergences, qualityFactor } from '../../src/federation/strategies/adaptive-weighting.js';
import { fedAdam } from '../../src/federation/strategies/fedadam.js';
import { fedAvg } from '../../src/federation/strategies/fedavg.js';
import { fedProx } from '../../src/federation/strategies/fedprox.js';
import { fedYogi } from '../../src/federation/strategies/fedyogi.js';
import { createStrategy, sampleWeights } from '../../src/federation/strategies/index.js';
import { coordinateMedian } from '../../src/federation/strategies/median.js';
import { trimmedMean } from '../../src/federation/strategies/trimmed-mean.js';
import type { SiteUpdate } from '../../src/federation/strategies/types.js';

const u = (site: string, delta: number[], numSamples = 1, quality?: SiteUpdate['quality']): SiteUpdate => ({ site, delta: Float32Array.from(delta), numSamples, quality });
const arr = (a: Float32Array): number[] => Array.from(a);

describe('FedAvg / FedProx', () => {
  it('weights by samples: (1·[1,2] + 3·[5,-2]) / 4 = [4, -1]', () => {
    const ups = [u('a', [1, 2], 1), u('b', [5, -2], 3)];
    const s = fedAvg();
    const delta = s.combine(ups, sampleWeights(ups));
    expect(arr(delta)).toEqual([4, -1]);
    expect(arr(s.apply(Float32Array.from([10, 10]), delta, {}).global)).toEqual([14, 9]);
  });

  it('server learning rate scales the step', () => {
    expect(arr(fedAvg({ serverLr: 0.5 }).apply(Float32Array.from([1]), Float32Array.from([2]), {}).global)).toEqual([2]);
  });

  it('FedProx aggregates exactly like FedAvg and carries mu for the sites', () => {
    const ups = [u('a', [1], 1), u('b', [3], 1)];
    const p = fedProx({ mu: 0.1 });
    expect(arr(p.combine(ups, sampleWeights(ups)))).toEqual([2]);
    expect(p.mu).toBe(0.1);
  });

  it('refuses mismatched lengths and all-zero weights with a clear error', () => {
    expect(() => fedAvg().combine([u('a', [1, 2]), u('b', [1])], [1, 1])).toThrow(/b's has 1|a's has 2|same model architecture|has 1 values/);
    expect(() => fedAvg().combine([u('a', [1])], [0])).toThrow(FhirfedError);
  });
});

describe('FedAdam / FedYogi (Reddi et al. 2021)', () => {
  // Hand computation, x0 = 0, Δ = 1, η = 0.1, β1 = 0.9, β2 = 0.99, τ = 1e-3, v_{-1} = τ² = 1e-6:
  //   m = 0.1;  Adam: v = 0.99e-6 + 0.01 = 0.01000099;  x = 0.1·0.1 / (sqrt(v) + 0.001) = 0.0990051...
  //   Yogi: v = 1e-6 − 0.01·1·sign(1e-6 − 1) = 0.010001;  x = 0.01 / (sqrt(0.010001) + 0.001) = 0.0990050...
  it('FedAdam first step', () => {
    const r = fedAdam({ serverLr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }).apply(Float32Array.from([0]), Float32Array.from([1]), {});
    const v = 0.99e-6 + 0.01;
    expect(r.global[0]).toBeCloseTo(0.01 / (Math.sqrt(v) + 0.001), 6);
    expect(r.state.m?.[0]).toBeCloseTo(0.1, 7);
    expect(r.state.v?.[0]).toBeCloseTo(v, 9);
  });

  it('FedYogi first step and the sign rule on the second', () => {
    const s = fedYogi({ serverLr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    const r1 = s.apply(Float32Array.from([0]), Float32Array.from([1]), {});
    expect(r1.state.v?.[0]).toBeCloseTo(0.010001, 9);
    expect(r1.global[0]).toBeCloseTo(0.01 / (Math.sqrt(0.010001) + 0.001), 6);
    // Second step with Δ = 0: v > Δ² so v shrinks by (1−β2)·0 = 0 (stays); Adam's would decay by β2.
    const r2 = s.apply(r1.global, Float32Array.from([0]), r1.state);
    expect(r2.state.v?.[0]).toBeCloseTo(0.010001, 9);
    const a2 = fedAdam({ serverLr: 0.1, tau: 1e-3 }).apply(Float32Array.from([0]), Float32Array.from([0]), { m: Float32Array.from([0.1]), v: Float32Array.from([0.01]) });
    expect(a2.state.v?.[0]).toBeCloseTo(0.0099, 9);
    expect(a2.state.m?.[0]).toBeCloseTo(0.09, 7);
  });

  it('does not modify its inputs', () => {
    const m = Float32Array.from([0.5]);
    fedAdam().apply(Float32Array.from([0]), Float32Array.from([1]), { m, v: Float32Array.from([1]) });
    expect(m[0]).toBe(0.5);
  });
});

describe('robust aggregation', () => {
  const ups = [u('a', [1, 10]), u('b', [2, -4]), u('c', [100, 3]), u('d', [3, 0])];

  it('coordinate-wise median: odd and even counts', () => {
    expect(arr(coordinateMedian(ups.slice(0, 3)))).toEqual([2, 3]);
    expect(arr(coordinateMedian(ups))).toEqual([2.5, 1.5]);
  });

  it('trimmed mean drops floor(β·k) from each end', () => {
    // k = 4, β = 0.25 -> drop 1 each side: coord0 {2,3} -> 2.5; coord1 {0,3} -> 1.5
    expect(arr(trimmedMean(ups, 0.25))).toEqual([2.5, 1.5]);
    // β = 0 is the plain mean: (1+2+100+3)/4 = 26.5
    expect(trimmedMean(ups, 0)[0]).toBe(26.5);
    expect(() => trimmedMean(ups, 0.5)).toThrow(/trimFraction/);
  });

  it('is refused when secure aggregation is on', () => {
    expect(() => createStrategy({ name: 'median' }, 'masking')).toThrow(/needs every site's update in the clear/);
    expect(() => createStrategy({ name: 'trimmed-mean' }, 'paillier')).toThrow(FhirfedError);
    expect(createStrategy({ name: 'median' }, 'plain').needsIndividualUpdates).toBe(true);
    expect(createStrategy({ name: 'fedadam' }, 'masking').name).toBe('fedadam');
  });
});

describe('adaptive weighting', () => {
  it('quality factor = fill · (1 − plausibility failures)', () => {
    expect(qualityFactor(u('a', [0], 1, { fillRate: 0.8, plausibilityFailureRate: 0.25 }))).toBeCloseTo(0.6, 10);
    expect(qualityFactor(u('a', [0], 1))).toBe(1);
  });

  it('Bernoulli JS divergence: 0 for equal, 1 bit for opposite certainties', () => {
    expect(bernoulliJs(0.3, 0.3)).toBeCloseTo(0, 12);
    expect(bernoulliJs(0, 1)).toBeCloseTo(1, 12);
    // JS(Bern(0.5) ‖ Bern(0)) = H(0.25) − (H(0.5) + H(0))/2 = 0.811278 − 0.5
    expect(bernoulliJs(0.5, 0)).toBeCloseTo(0.8112781244591328 - 0.5, 10);
  });

  it('down-weights a site whose label distribution is far from the federation', () => {
    // p̄ = (100·0.5 + 100·0.5 + 100·0.0)/300 = 1/3
    const ups = [u('a', [0], 100, { labelPrevalence: { y: 0.5 } }), u('b', [0], 100, { labelPrevalence: { y: 0.5 } }), u('c', [0], 100, { labelPrevalence: { y: 0 } })];
    const d = divergences(ups);
    expect(d[0]).toBeCloseTo(bernoulliJs(0.5, 1 / 3), 12);
    expect(d[2]).toBeCloseTo(bernoulliJs(0, 1 / 3), 12);
    const w = adaptiveWeights(ups, { lambda: 2 });
    expect(w[0]).toBeCloseTo(100 * Math.exp(-2 * (d[0] as number)), 8);
    expect(w[2]).toBeLessThan(w[0] as number);
    // λ = 0 and no quality stats: plain sample weights.
    expect(adaptiveWeights(ups, { lambda: 0 })).toEqual([100, 100, 100]);
  });

  it('feature means: z²/(1+z²) against the weighted mean and sd of site means', () => {
    // means 0 and 2 with equal n: mean 1, sd 1 -> z = ±1 -> D = 0.5 for both
    const d = divergences([u('a', [0], 1, { featureMeans: { age: 0 } }), u('b', [0], 1, { featureMeans: { age: 2 } })]);
    expect(d[0]).toBeCloseTo(0.5, 6);
    expect(d[1]).toBeCloseTo(0.5, 6);
  });
});
