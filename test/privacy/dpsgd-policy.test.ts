import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isFhirfedError } from '../../src/core/errors.js';
import { BudgetLedger } from '../../src/privacy/budget.js';
import { createDpSgdPolicy, dpSgdEvent, epsilonForDpSgd, planDpSgd } from '../../src/privacy/dpsgd-policy.js';
import { computeEpsilon } from '../../src/privacy/rdp.js';
import { trainLocal } from '../../src/training/trainer.js';
import { SPECS, syntheticRows } from '../training/fixtures/synthetic.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('planDpSgd', () => {
  // The FLamby Fed-Heart-Disease privacy settings: (epsilon 1, delta 1e-3) and (epsilon 0.1, delta 1e-4).
  for (const [targetEpsilon, delta] of [[1, 1e-3], [0.1, 1e-4]] as const) {
    it(`finds z with epsilon within 1% below the target ${targetEpsilon} at delta ${delta}`, () => {
      const input = { n: 160, batchSize: 8, epochs: 2, rounds: 10, targetEpsilon, delta };
      const plan = planDpSgd(input);
      expect(plan.sampleRate).toBe(8 / 160);
      expect(plan.stepsPerRound).toBe(2 * 20);
      expect(plan.totalSteps).toBe(400);
      // Recomputed independently with the accountant, not trusting the plan's own epsilon.
      const eps = computeEpsilon([{ sampleRate: 0.05, noiseMultiplier: plan.noiseMultiplier, steps: 400 }], delta).epsilon;
      expect(eps).toBeCloseTo(plan.epsilon, 12);
      expect(eps).toBeLessThanOrEqual(targetEpsilon);
      expect(eps).toBeGreaterThanOrEqual(0.99 * targetEpsilon);
      // Not wastefully noisy: 2% less noise already overspends.
      expect(epsilonForDpSgd({ noiseMultiplier: plan.noiseMultiplier * 0.98, sampleRate: 0.05, steps: 400, delta })).toBeGreaterThan(targetEpsilon);
    });
  }

  it('handles a site smaller than one batch (q = 1, one step per epoch)', () => {
    const plan = planDpSgd({ n: 20, batchSize: 32, epochs: 3, rounds: 5, targetEpsilon: 4, delta: 1e-3 });
    expect(plan.sampleRate).toBe(1);
    expect(plan.totalSteps).toBe(15);
    expect(plan.epsilon).toBeLessThanOrEqual(4);
    expect(plan.epsilon).toBeGreaterThanOrEqual(0.99 * 4);
  });

  it('refuses bad input with a clear error', () => {
    const ok = { n: 100, batchSize: 10, epochs: 1, rounds: 1, targetEpsilon: 1, delta: 1e-5 };
    expect(() => planDpSgd({ ...ok, n: 0 })).toThrow(/n must be a whole number >= 1/);
    expect(() => planDpSgd({ ...ok, targetEpsilon: 0 })).toThrow(/target epsilon/);
    expect(() => planDpSgd({ ...ok, delta: 1 })).toThrow(/delta must be in \(0, 1\)/);
    expect(() => planDpSgd({ ...ok, rounds: 1.5 })).toThrow(/rounds/);
  });
});

describe('createDpSgdPolicy', () => {
  it('draws CSPRNG Gaussian noise with the requested std and validates its parameters', () => {
    const p = createDpSgdPolicy({ clipNorm: 2, noiseMultiplier: 1.5 });
    expect(Object.isFrozen(p)).toBe(true);
    expect(p.authorize).toBeUndefined();
    const v = p.noise(20_000, 3);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(variance / 9).toBeGreaterThan(0.95);
    expect(variance / 9).toBeLessThan(1.05);
    expect(() => createDpSgdPolicy({ clipNorm: -1, noiseMultiplier: 1 })).toThrow(/clip norm/);
    expect(() => createDpSgdPolicy({ clipNorm: 1, noiseMultiplier: Infinity })).toThrow(/noise multiplier/);
    expect(() => dpSgdEvent({ dpSteps: -1, sampleRate: 0.1, noiseMultiplier: 1 })).toThrow(/steps must be a whole number/);
  });

  it('charges a real ledger with what training spent and refuses a run the budget cannot cover', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fhirfed-dpsgd-'));
    dirs.push(dir);
    const ledger = await BudgetLedger.open(join(dir, 'ledger.json'), { epsilon: 1, delta: 1e-3 });
    const rows = syntheticRows({ n: 200 });
    const hyper = { model: 'logreg' as const, epochs: 3, batchSize: 16, patience: 10 };
    const first = await trainLocal({ rows, specs: SPECS, hyper: { ...hyper, epochs: 1 } });
    // Plan with the trainer's own training-row count so the plan and the charge use the same q.
    const plan = planDpSgd({ n: first.numSamples, batchSize: 16, epochs: 3, rounds: 2, targetEpsilon: 1, delta: 1e-3 });
    const policy = createDpSgdPolicy({ clipNorm: 1, noiseMultiplier: plan.noiseMultiplier, ledger });
    const r = await trainLocal({ rows, specs: SPECS, hyper, dpSgd: policy });
    const event = dpSgdEvent(r.dpSgd!);
    expect(event).toEqual({ sampleRate: plan.sampleRate, noiseMultiplier: plan.noiseMultiplier, steps: r.dpSgd!.dpSteps });
    await ledger.record('round-1', [event]);
    expect(ledger.spent()).toBeCloseTo(epsilonForDpSgd({ ...event, delta: 1e-3 }), 9);
    expect(ledger.spent()).toBeLessThan(1);

    const greedy = createDpSgdPolicy({ clipNorm: 1, noiseMultiplier: plan.noiseMultiplier / 4, ledger });
    const err = await trainLocal({ rows, specs: SPECS, hyper, dpSgd: greedy }).catch((e: unknown) => e);
    expect(isFhirfedError(err) && err.code).toBe('FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED');
    expect(ledger.entries()).toHaveLength(1);
  });
});
