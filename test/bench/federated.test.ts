import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { optionsFromArgv, runFederatedBench } from '../../bench/federated.bench.js';
import { harmonizeHeartSites, type HarmonizedSite } from '../../bench/federated/data.js';
import { planSiteDp } from '../../bench/federated/dp-plan.js';
import { WIDTH, type Matrix } from '../../bench/federated/design.js';
import { dpGradient, meanGradient, PARAMS } from '../../bench/federated/logreg.js';
import { prepare, type Prepared } from '../../bench/federated/prepare.js';
import { runSuite, type SuiteResult } from '../../bench/federated/suite.js';
import { computeEpsilon } from '../../src/privacy/rdp.js';

const DIR = '../shared/datasets/heart-disease';
const hasData = existsSync(DIR);
const REASON = `${DIR} is absent (the UCI Heart Disease files live outside the repository)`;

/** Two rows, three non-zero columns: small enough to check the closed forms by hand. */
function tiny(): Matrix {
  const x = new Float64Array(2 * WIDTH);
  x.set([1, -2, 0.5], 0);
  x.set([3, 1, -1], WIDTH);
  return { n: 2, x, y: Float64Array.from([1, 0]) };
}

describe('logistic regression pieces (no data needed)', () => {
  it('mean BCE gradient equals a central finite difference of the loss', () => {
    const m = tiny();
    const w = Float64Array.from({ length: PARAMS }, (_, j) => (j % 3) * 0.1 - 0.1);
    const loss = (v: Float64Array) =>
      [0, 1].reduce((acc, r) => {
        let z = v[WIDTH] as number;
        for (let j = 0; j < WIDTH; j++) z += (v[j] as number) * (m.x[r * WIDTH + j] as number);
        const p = 1 / (1 + Math.exp(-z));
        return acc - ((m.y[r] as number) * Math.log(p) + (1 - (m.y[r] as number)) * Math.log(1 - p)) / 2;
      }, 0);
    const g = meanGradient(w, m, [0, 1]);
    for (const j of [0, 1, 2, WIDTH]) {
      const up = Float64Array.from(w);
      const down = Float64Array.from(w);
      up[j] = (up[j] as number) + 1e-6;
      down[j] = (down[j] as number) - 1e-6;
      expect(g[j]).toBeCloseTo((loss(up) - loss(down)) / 2e-6, 6);
    }
  });

  it('DP gradient without noise is the sum of per-example gradients clipped to C, over the expected batch', () => {
    const m = tiny();
    const w = new Float64Array(PARAMS); // p = 0.5 for both rows
    const { grad, clipped } = dpGradient(w, m, [0, 1], 0.5, 0, 2);
    // Example 0: (0.5 − 1)·[1, −2, 0.5, 0…, 1], norm 0.5·√6.25 = 1.25 -> scaled by 0.5/1.25.
    // Example 1: (0.5 − 0)·[3, 1, −1, 0…, 1], norm 0.5·√12 -> scaled by 0.5/(0.5·√12).
    const s0 = 0.5 / 1.25;
    const s1 = 0.5 / (0.5 * Math.sqrt(12));
    expect(clipped).toBe(2);
    expect(grad[0]).toBeCloseTo((s0 * -0.5 * 1 + s1 * 0.5 * 3) / 2, 12);
    expect(grad[WIDTH]).toBeCloseTo((s0 * -0.5 + s1 * 0.5) / 2, 12);
    expect(grad[5]).toBe(0);
  });

  it('plans the noise so the accountant spends at most the target, and refuses a bad --seeds', () => {
    const plan = planSiteDp(30, 4, 1500, 1, 1e-3);
    expect(plan.epsilon).toBeLessThanOrEqual(1);
    expect(plan.epsilon).toBeGreaterThan(0.99);
    expect(computeEpsilon([{ sampleRate: 4 / 30, noiseMultiplier: plan.noiseMultiplier * 0.9, steps: 1500 }], 1e-3).epsilon).toBeGreaterThan(1);
    expect(() => optionsFromArgv(['--seeds', 'many'])).toThrow(/--seeds must be a whole number/);
    expect(optionsFromArgv(['--seeds=3', '--data', '/x'])).toEqual({ seeds: 3, dir: '/x' });
  });

  it('skips with one line and no results when the data folder is absent', async () => {
    expect(await runFederatedBench({ dir: '/nonexistent/heart-disease', seeds: 1 })).toEqual([]);
  });
});

describe.skipIf(!hasData)(`federated benchmark pipeline (${hasData ? 'data present' : REASON})`, () => {
  let sites: HarmonizedSite[] = [];
  let prep: Prepared;
  let suite: SuiteResult;
  beforeAll(async () => {
    sites = await harmonizeHeartSites({ dir: DIR });
    prep = prepare(sites);
    // One seed; FLamby's 15 rounds (FedAvg at lr 0.001 needs them; a run takes well under a second), fewer epochs.
    suite = runSuite(prep, { seeds: [42], pooledEpochs: 10, dpTargets: [{ epsilon: 1, delta: 1e-3 }] });
  });
  const acc = (id: string) => suite.runs.find((r) => r.id === id)?.scores[0]?.accuracy ?? Number.NaN;

  it('harmonization yields the protocol row counts per site (FHIR and HL7 v2 inputs)', () => {
    expect(sites.map((s) => [s.site, s.format, s.train.length, s.test.length])).toEqual([
      ['heart-cleveland', 'fhir', 199, 104],
      ['heart-hungary', 'fhir', 172, 89],
      ['heart-switzerland', 'hl7v2', 30, 16],
      ['heart-va', 'hl7v2', 85, 45],
    ]);
    expect(prep.pooledTest.n).toBe(254);
    expect(prep.pooledTrain.n).toBe(486);
    // Switzerland never sends cholesterol: its quality statistics say so, and adaptive weighting sees it.
    expect(prep.sites[2]?.quality.fillRate).toBeCloseTo(0.9, 9);
    expect(prep.sites[0]?.quality.fillRate).toBe(1);
  });

  it('pooled and FedAvg reach accuracy > 0.7 on the pooled test set', () => {
    expect(acc('pooled')).toBeGreaterThan(0.7);
    expect(acc('fedavg')).toBeGreaterThan(0.7);
  });

  it('DP-SGD at epsilon 1 runs with noise whose accountant epsilon is <= 1 at every site', () => {
    const plan = suite.dpPlans[0];
    expect(plan?.sites).toHaveLength(4);
    for (const s of plan?.sites ?? []) {
      expect(s.steps).toBe(1500);
      const { epsilon } = computeEpsilon([{ sampleRate: s.sampleRate, noiseMultiplier: s.noiseMultiplier, steps: s.steps }], 1e-3);
      expect(epsilon).toBeLessThanOrEqual(1);
    }
    const dp = suite.runs.find((r) => r.id === 'dp-1')?.scores[0];
    expect(dp?.accuracy).toBeGreaterThan(0.3);
    expect(Number.isFinite(dp?.auroc)).toBe(true);
  });
});
