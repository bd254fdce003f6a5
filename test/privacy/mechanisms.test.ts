import { describe, expect, it } from 'vitest';
import {
  adaptiveUpdateNoiseMultiplier,
  clipL2,
  l2Norm,
  nextClipNorm,
  unclippedIndicator,
} from '../../src/privacy/clipping.js';
import { clipAndSum, dpSgdGradient } from '../../src/privacy/dpsgd.js';
import { CsprngGaussian, gaussianMechanism, gaussianNoise, type GaussianSource } from '../../src/privacy/noise.js';

function stats(v: ArrayLike<number>): { mean: number; sd: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += ((v[i] as number) - mean) ** 2;
  return { mean, sd: Math.sqrt(q / (v.length - 1)) };
}

/** A source that adds nothing, to check the deterministic part of the mechanisms exactly. */
const zeroSource: GaussianSource = { fill: (out) => out.fill(0) };

describe('L2 clipping', () => {
  it('scales an update above the clip norm to exactly the clip norm and leaves smaller ones alone', () => {
    const v = Float32Array.from([3, 4]);
    expect(clipL2(v, 1)).toEqual({ norm: 5, clipped: true });
    expect(l2Norm(v)).toBeCloseTo(1, 6);
    expect(v[0]! / v[1]!).toBeCloseTo(0.75, 6);
    const small = Float32Array.from([0.3, 0.4]);
    expect(clipL2(small, 1).clipped).toBe(false);
    expect(Array.from(small)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('refuses NaN updates and non-positive clip norms', () => {
    expect(() => clipL2(Float32Array.from([NaN, 1]), 1)).toThrow(/NaN or Infinity/);
    expect(() => clipL2(Float32Array.from([1]), 0)).toThrow(/clip norm/);
  });
});

describe('adaptive clipping (Andrew et al. 2021)', () => {
  const opts = { targetQuantile: 0.5, learningRate: 0.2 };

  it('grows C when fewer sites than the target are unclipped, shrinks it otherwise, by exp(-eta (b - gamma))', () => {
    expect(nextClipNorm({ clipNorm: 1, noisyUnclippedCount: 0, participants: 10 }, opts)).toBeCloseTo(Math.exp(0.1), 12);
    expect(nextClipNorm({ clipNorm: 1, noisyUnclippedCount: 10, participants: 10 }, opts)).toBeCloseTo(Math.exp(-0.1), 12);
    expect(nextClipNorm({ clipNorm: 2, noisyUnclippedCount: 5, participants: 10 }, opts)).toBeCloseTo(2, 12);
  });

  it('converges to the target quantile of the update norms', () => {
    const norms = Array.from({ length: 100 }, (_, i) => (i + 1) / 10); // 0.1 .. 10, median ~5
    let c = 0.1;
    for (let round = 0; round < 400; round++) {
      const unclipped = norms.reduce((s, n) => s + unclippedIndicator(n, c), 0);
      c = nextClipNorm({ clipNorm: c, noisyUnclippedCount: unclipped, participants: norms.length }, opts);
    }
    expect(c).toBeGreaterThan(4.5);
    expect(c).toBeLessThan(5.6);
  });

  it('splits the noise budget between the update and the quantile query', () => {
    const zDelta = adaptiveUpdateNoiseMultiplier(1, 10);
    expect(zDelta).toBeGreaterThan(1);
    expect(zDelta ** -2 + (2 * 10) ** -2).toBeCloseTo(1, 12);
    expect(() => adaptiveUpdateNoiseMultiplier(1, 0.4)).toThrow(/too small/);
  });
});

describe('CSPRNG Gaussian noise', () => {
  it('has mean 0 and the requested standard deviation (200k samples)', () => {
    const n = gaussianNoise(200_000, 2.5);
    const { mean, sd } = stats(n);
    // Standard errors: mean 2.5/sqrt(2e5) ~ 0.0056; sd ~ 2.5/sqrt(4e5) ~ 0.004. Bounds are > 7 standard errors.
    expect(Math.abs(mean)).toBeLessThan(0.04);
    expect(Math.abs(sd - 2.5)).toBeLessThan(0.03);
    // Tail mass beyond 2 sigma should be ~4.55%.
    const tail = n.filter((x) => Math.abs(x) > 5).length / n.length;
    expect(tail).toBeGreaterThan(0.042);
    expect(tail).toBeLessThan(0.049);
  });

  it('two draws differ (not a fixed seed)', () => {
    const src = new CsprngGaussian();
    const a = new Float64Array(8);
    const b = new Float64Array(8);
    src.fill(a);
    src.fill(b);
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

describe('client-level Gaussian mechanism', () => {
  it('clips, then adds noise of std z*C (or z*C/sqrt(n) as one share of distributed noise)', () => {
    const u = new Float32Array(50_000).fill(1); // norm ~223.6
    const out = gaussianMechanism(u, { clipNorm: 1, noiseMultiplier: 0.8 });
    expect(out.clipped).toBe(true);
    expect(out.noiseStd).toBeCloseTo(0.8, 12);
    const clippedValue = 1 / Math.sqrt(50_000);
    const noise = Array.from(out.update, (x) => x - clippedValue);
    expect(Math.abs(stats(noise).sd - 0.8)).toBeLessThan(0.02);
    expect(u[0]).toBe(1); // the input is not modified
    expect(gaussianMechanism(u, { clipNorm: 1, noiseMultiplier: 0.8, shareOf: 4 }).noiseStd).toBeCloseTo(0.4, 12);
    const exact = gaussianMechanism(u, { clipNorm: 2, noiseMultiplier: 1, source: zeroSource });
    expect(l2Norm(exact.update)).toBeCloseTo(2, 4);
  });
});

describe('DP-SGD helpers', () => {
  it('clips each example before summing, so one outlier cannot dominate', () => {
    const grads = [Float32Array.from([100, 0]), Float32Array.from([0, 0.5]), Float32Array.from([0.3, 0.4])];
    const { sum, clippedCount, count } = clipAndSum(grads, 1);
    expect(clippedCount).toBe(1);
    expect(count).toBe(3);
    expect(sum[0]).toBeCloseTo(1.3, 6);
    expect(sum[1]).toBeCloseTo(0.9, 6);
    expect(grads[0]![0]).toBe(100);
  });

  it('adds N(0,(zC)^2) to the sum and divides by the expected batch size', () => {
    const grads = Array.from({ length: 4 }, () => new Float32Array(40_000).fill(0));
    const step = dpSgdGradient(grads, { clipNorm: 2, noiseMultiplier: 1.5, expectedBatchSize: 10 });
    // std of the mean: 1.5 * 2 / 10 = 0.3
    expect(Math.abs(stats(step.gradient).sd - 0.3)).toBeLessThan(0.01);
    const exact = dpSgdGradient([Float32Array.from([3, 4])], { clipNorm: 1, noiseMultiplier: 1, source: zeroSource });
    expect(Array.from(exact.gradient).map((x) => Number(x.toFixed(6)))).toEqual([0.6, 0.8]);
  });

  it('refuses gradients of different lengths with the index of the bad one', () => {
    expect(() => clipAndSum([new Float32Array(3), new Float32Array(2)], 1)).toThrow(/gradient 1 has 2 entries, expected 3/);
  });
});
