import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { createDpSgdPolicy } from '../../src/privacy/dpsgd-policy.js';
import { trainLocal } from '../../src/training/trainer.js';
import type { DpSgdPlan, SampleLevelPrivacy } from '../../src/training/types.js';
import { SPECS, syntheticRows } from './fixtures/synthetic.js';

/** The real CSPRNG policy, wrapped to record what the trainer asks of it. */
function recording(clipNorm: number, noiseMultiplier: number) {
  const inner = createDpSgdPolicy({ clipNorm, noiseMultiplier });
  const calls: { length: number; std: number }[] = [];
  const plans: DpSgdPlan[] = [];
  const policy: SampleLevelPrivacy = {
    clipNorm,
    noiseMultiplier,
    noise: (length, std) => (calls.push({ length, std }), inner.noise(length, std)),
    authorize: (plan) => void plans.push(plan),
  };
  return { policy, calls, plans };
}

describe('trainLocal with DP-SGD', () => {
  it('still learns a separable problem at z = 1 (AUROC > 0.8) and noises every step with std z*C', async () => {
    const rows = syntheticRows({ n: 300 });
    const { policy, calls, plans } = recording(1, 1);
    const r = await trainLocal({
      rows,
      specs: SPECS,
      hyper: { model: 'mlp', hidden: [16], epochs: 15, batchSize: 32, learningRate: 0.02, patience: 15 },
      dpSgd: policy,
    });
    expect(r.metrics.drug_response?.auroc).toBeGreaterThan(0.8);
    expect(r.metrics.adverse_event?.auroc).toBeGreaterThan(0.8);
    const dp = r.dpSgd!;
    expect(dp.sampleRate).toBeCloseTo(32 / r.numSamples, 12);
    expect(dp.stepsPerEpoch).toBe(Math.ceil(r.numSamples / 32));
    expect(dp.dpSteps).toBe(r.epochs * dp.stepsPerEpoch);
    expect(dp.expectedBatchSize).toBeCloseTo(32, 9);
    expect(dp.clippedFraction).toBeGreaterThanOrEqual(0);
    expect(dp.clippedFraction).toBeLessThanOrEqual(1);
    expect(calls).toHaveLength(dp.dpSteps);
    expect(calls.every((c) => c.length === r.layout.total && c.std === 1)).toBe(true);
    expect(plans).toEqual([{ sampleRate: dp.sampleRate, noiseMultiplier: 1, steps: 15 * dp.stepsPerEpoch }]);
  });

  it('reports the steps actually taken when early stopping ends the run', async () => {
    const rows = syntheticRows({ n: 160, seed: 3 });
    const { policy, calls, plans } = recording(0.5, 3);
    const progress: number[] = [];
    const r = await trainLocal({
      rows,
      specs: SPECS,
      hyper: { model: 'logreg', epochs: 60, batchSize: 16, learningRate: 0.3, patience: 1 },
      dpSgd: policy,
      onProgress: (e) => void progress.push(e),
    });
    expect(r.epochs).toBeLessThan(60);
    expect(progress).toHaveLength(r.epochs);
    const dp = r.dpSgd!;
    // Every step run counts, including those after the best epoch whose weights are returned.
    expect(dp.dpSteps).toBe(r.epochs * Math.ceil(r.numSamples / 16));
    expect(calls).toHaveLength(dp.dpSteps);
    expect(plans[0]?.steps).toBe(60 * dp.stepsPerEpoch);
    expect(r.bestEpoch).toBeLessThanOrEqual(r.epochs);
  });

  it('refuses before training when authorize throws (an exhausted budget), taking no noisy step', async () => {
    const { calls } = recording(1, 1);
    const policy: SampleLevelPrivacy = {
      clipNorm: 1,
      noiseMultiplier: 1,
      noise: (length, std) => (calls.push({ length, std }), new Float64Array(length)),
      authorize: () => {
        throw new FhirfedError('FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED', 'budget exceeded');
      },
    };
    await expect(trainLocal({ rows: syntheticRows({ n: 80 }), specs: SPECS, hyper: { model: 'logreg', epochs: 2 }, dpSgd: policy })).rejects.toThrow(
      /budget exceeded/,
    );
    expect(calls).toHaveLength(0);
  });

  it('refuses a malformed policy with a clear error', async () => {
    const rows = syntheticRows({ n: 60 });
    const bad = { clipNorm: 0, noiseMultiplier: 1, noise: (n: number) => new Float64Array(n) };
    await expect(trainLocal({ rows, specs: SPECS, hyper: { epochs: 1 }, dpSgd: bad })).rejects.toThrow(/clip norm must be a finite number > 0/);
    const nan = { clipNorm: 1, noiseMultiplier: Number.NaN, noise: (n: number) => new Float64Array(n) };
    await expect(trainLocal({ rows, specs: SPECS, hyper: { epochs: 1 }, dpSgd: nan })).rejects.toThrow(/noise multiplier/);
    const short = { clipNorm: 1, noiseMultiplier: 1, noise: () => new Float64Array(2) };
    await expect(trainLocal({ rows, specs: SPECS, hyper: { model: 'logreg', epochs: 1 }, dpSgd: short })).rejects.toThrow(/noise source returned 2 values/);
  });

  it('leaves the ordinary path without dpSgd unchanged (no report)', async () => {
    const r = await trainLocal({ rows: syntheticRows({ n: 80 }), specs: SPECS, hyper: { model: 'logreg', epochs: 2 } });
    expect(r.dpSgd).toBeUndefined();
  });
});
