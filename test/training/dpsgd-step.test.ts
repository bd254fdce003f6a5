import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as tfTypes from '@tensorflow/tfjs';
import { clipL2, l2Norm } from '../../src/privacy/clipping.js';
import { createDpSgdPolicy } from '../../src/privacy/dpsgd-policy.js';
import { initBackend, type Tf } from '../../src/training/backend.js';
import { clippedGradientSum, dpSgdSchedule, poissonSample, privatizeSum } from '../../src/training/dpsgd-step.js';
import { maskedLoss, MultiTaskModel } from '../../src/training/model.js';
import { createRng } from '../../src/training/rng.js';

let tf: Tf;
const models: MultiTaskModel[] = [];
beforeAll(async () => {
  ({ tf } = await initBackend());
});
afterAll(() => models.forEach((m) => m.dispose()));

function build(trunk: number[], width = 5, labels = ['a', 'b'], seed = 3): MultiTaskModel {
  const m = MultiTaskModel.build(tf, { inputWidth: width, labels, trunk });
  const rng = createRng(seed);
  // Non-zero biases too, so a wrong bias gradient cannot hide behind zeros.
  m.setFlatWeights(Float32Array.from({ length: m.layout.total }, () => (rng() - 0.5) * 1.5));
  models.push(m);
  return m;
}

interface Batch {
  x: number[][];
  t: number[][];
}

/** Random rows; targets packed [y | w | m]. `missing` drops labels; `posWeight` re-weights positives. */
function batch(n: number, width: number, heads: number, seed: number, missing = 0, posWeight = 1): Batch {
  const rng = createRng(seed);
  const x: number[][] = [];
  const t: number[][] = [];
  for (let i = 0; i < n; i++) {
    x.push(Array.from({ length: width }, () => (rng() - 0.5) * 4));
    const y = Array.from({ length: heads }, () => (rng() < 0.5 ? 1 : 0));
    const m = Array.from({ length: heads }, () => (rng() < missing ? 0 : 1));
    const w = y.map((v, j) => (m[j] as number) * (v === 1 ? posWeight : 1));
    t.push([...y, ...w, ...m]);
  }
  return { x, t };
}

/** Reference: one tf.variableGrads per example on the real layers model, flattened in layout order. */
function loopGrads(m: MultiTaskModel, b: Batch): Float32Array[] {
  const heads = m.spec.labels.length;
  return b.x.map((row, i) => {
    const { grads, value } = tf.variableGrads(() => {
      const x = tf.tensor2d([row]);
      const t = tf.tensor2d([b.t[i] as number[]]);
      return maskedLoss(tf, m.logits(x), t, heads);
    }, [...m.variables]);
    const flat = new Float32Array(m.layout.total);
    m.variables.forEach((v, k) => flat.set(grads[v.name]!.dataSync() as Float32Array, m.layout.entries[k]!.offset));
    tf.dispose([value, ...Object.values(grads)]);
    return flat;
  });
}

function run<T>(b: Batch, f: (x: tfTypes.Tensor2D, t: tfTypes.Tensor2D) => T): T {
  const x = tf.tensor2d(b.x);
  const t = tf.tensor2d(b.t);
  try {
    return f(x, t);
  } finally {
    tf.dispose([x, t]);
  }
}

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1e-6, l2Norm(b));
  const diff = l2Norm(Float32Array.from(a, (v, i) => v - (b[i] as number)));
  expect(diff / scale).toBeLessThan(tol);
}

describe('vectorised per-example clipping', () => {
  for (const [name, trunk] of [['logreg', []], ['mlp [8]', [8]], ['mlp [6, 4]', [6, 4]]] as const) {
    it(`${name}: norms and clipped sum equal a loop of single-example gradients (missing labels, class weights)`, () => {
      const m = build([...trunk]);
      const b = batch(12, 5, 2, 11, 0.3, 2.5);
      const per = loopGrads(m, b);
      const norms = per.map((g) => l2Norm(g));
      const sorted = [...norms].sort((p, q) => p - q);
      // Halfway between two norms, so float rounding cannot flip whether the boundary example is clipped.
      const mid = ((sorted[5] as number) + (sorted[6] as number)) / 2;
      for (const C of [mid, 1e6]) {
        const got = run(b, (x, t) => clippedGradientSum(tf, m, x, t, C));
        const ref = new Float32Array(m.layout.total);
        for (const g of per) {
          const c = Float32Array.from(g);
          clipL2(c, C);
          c.forEach((v, i) => (ref[i] = (ref[i] as number) + v));
        }
        got.norms.forEach((n, i) => expect(n).toBeCloseTo(norms[i] as number, 4));
        expect(got.clippedCount).toBe(norms.filter((n) => n > C).length);
        expectClose(got.sum, ref, 1e-5);
      }
    });
  }

  it('bounds the summed gradient by B*C and clips a single huge example to exactly C', () => {
    const m = build([8]);
    const b = batch(16, 5, 2, 5);
    const C = 0.05;
    const g = run(b, (x, t) => clippedGradientSum(tf, m, x, t, C));
    expect(g.clippedCount).toBeGreaterThan(0);
    expect(l2Norm(g.sum)).toBeLessThanOrEqual(16 * C * (1 + 1e-5));
    const huge = { x: [[1e4, -2e4, 3e4, 1e4, -1e4]], t: [[0, 1, 1, 1, 1, 1]] };
    const one = run(huge, (x, t) => clippedGradientSum(tf, m, x, t, C));
    expect(one.norms[0]).toBeGreaterThan(1000 * C);
    expect(l2Norm(one.sum)).toBeCloseTo(C, 5);
  });

  it('with C large and no noise, the DP gradient is the ordinary masked-loss gradient of the batch', () => {
    const m = build([8]);
    const b = batch(20, 5, 2, 17); // every label present: the per-head denominators equal B
    const policy = createDpSgdPolicy({ clipNorm: 1e6, noiseMultiplier: 0 });
    const dp = privatizeSum(run(b, (x, t) => clippedGradientSum(tf, m, x, t, policy.clipNorm)).sum, policy, 20);
    const ref = run(b, (x, t) => {
      const { grads, value } = tf.variableGrads(() => maskedLoss(tf, m.logits(x), t, 2), [...m.variables]);
      const flat = new Float32Array(m.layout.total);
      m.variables.forEach((v, k) => flat.set(grads[v.name]!.dataSync() as Float32Array, m.layout.entries[k]!.offset));
      tf.dispose([value, ...Object.values(grads)]);
      return flat;
    });
    expectClose(dp, ref, 1e-5);
  });
});

describe('noise and sampling', () => {
  it('adds N(0, (zC)^2 / B^2) per coordinate to the mean clipped gradient', () => {
    const m = build([8]);
    const b = batch(16, 5, 2, 23);
    const [z, C, B] = [1.3, 0.7, 16];
    const policy = createDpSgdPolicy({ clipNorm: C, noiseMultiplier: z });
    const clean = run(b, (x, t) => clippedGradientSum(tf, m, x, t, C)).sum;
    let sum = 0;
    let sq = 0;
    let count = 0;
    for (let r = 0; r < 300; r++) {
      const noisy = privatizeSum(Float32Array.from(clean), policy, B);
      noisy.forEach((v, i) => {
        const e = v - (clean[i] as number) / B;
        sum += e;
        sq += e * e;
        count++;
      });
    }
    const expected = ((z * C) / B) ** 2;
    expect(Math.abs(sum / count)).toBeLessThan(0.05 * Math.sqrt(expected));
    expect(sq / count / expected).toBeGreaterThan(0.9);
    expect(sq / count / expected).toBeLessThan(1.1);
  });

  it('Poisson-samples each row with probability q from a secret source', () => {
    const draws = Array.from({ length: 200 }, () => poissonSample(400, 0.08));
    const sizes = draws.map((d) => d.length);
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    expect(mean).toBeGreaterThan(30);
    expect(mean).toBeLessThan(34);
    expect(new Set(sizes).size).toBeGreaterThan(5); // variable batch sizes, not a fixed-size shuffle
    expect(draws.every((d) => d.every((i, k) => i >= 0 && i < 400 && (k === 0 || i > (d[k - 1] as number))))).toBe(true);
    expect(poissonSample(7, 1)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(dpSgdSchedule(240, 32)).toEqual({ sampleRate: 32 / 240, stepsPerEpoch: 8, expectedBatchSize: 32 });
    expect(dpSgdSchedule(20, 32)).toEqual({ sampleRate: 1, stepsPerEpoch: 1, expectedBatchSize: 20 });
  });
});
