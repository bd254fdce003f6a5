import { beforeAll, describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { initBackend, type Tf } from '../../src/training/backend.js';
import { computeDelta, maskedLoss, MultiTaskModel } from '../../src/training/model.js';
import { createRng } from '../../src/training/rng.js';
import { trainLocal } from '../../src/training/trainer.js';
import { runLocalRounds } from '../../src/training/local-run.js';
import type { WeightLayout } from '../../src/training/types.js';
import { SPECS, syntheticRows } from './fixtures/synthetic.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await initBackend());
});

function entry(layout: WeightLayout, prefix: string) {
  return layout.entries.filter((e) => e.name.startsWith(prefix));
}

function randomFlat(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng() - 0.5);
}

describe('MultiTaskModel weights', () => {
  it('round-trips a flat Float32Array through setFlatWeights/getFlatWeights with a stable layout', () => {
    const a = MultiTaskModel.build(tf, { inputWidth: 5, labels: ['drug_response', 'adverse event'], trunk: [4, 3] });
    const b = MultiTaskModel.build(tf, { inputWidth: 5, labels: ['drug_response', 'adverse event'], trunk: [4, 3] });
    const c = MultiTaskModel.build(tf, { inputWidth: 5, labels: ['drug_response', 'adverse event'], trunk: [4] });
    try {
      expect(a.layout.entries.map((e) => `${e.name}:${e.shape.join('x')}@${e.offset}`)).toEqual([
        'trunk_0/kernel:5x4@0', 'trunk_0/bias:4@20', 'trunk_1/kernel:4x3@24', 'trunk_1/bias:3@36',
        'head_0_drug_response/kernel:3x1@39', 'head_0_drug_response/bias:1@42',
        'head_1_adverse_event/kernel:3x1@43', 'head_1_adverse_event/bias:1@46',
      ]);
      expect(a.layout.total).toBe(47);
      expect(b.layout.fingerprint).toBe(a.layout.fingerprint);
      expect(c.layout.fingerprint).not.toBe(a.layout.fingerprint);
      const w = randomFlat(a.layout.total, 3);
      a.setFlatWeights(w);
      expect(a.getFlatWeights()).toEqual(w);
      expect(() => a.setFlatWeights(new Float32Array(46))).toThrow(FhirfedError);
      expect(a.initialWeights(9)).toEqual(b.initialWeights(9));
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it('computes the delta as local minus global', () => {
    expect(Array.from(computeDelta(Float32Array.from([1, 2.5, -1]), Float32Array.from([0.5, 3, -1])))).toEqual([0.5, -0.5, 0]);
  });
});

describe('masked multi-task loss', () => {
  it('gives a head no gradient when its labels are all missing in the batch', () => {
    const m = MultiTaskModel.build(tf, { inputWidth: 3, labels: ['a', 'b'], trunk: [4] });
    try {
      m.setFlatWeights(randomFlat(m.layout.total, 5));
      const x = tf.tensor2d([[1, 0, 2], [0.5, -1, 0], [-1, 1, 1]]);
      // targets = [y_a, y_b | w_a, w_b | m_a, m_b]; head b has no label in this batch (garbage y must not matter).
      const t = tf.tensor2d([[1, 1, 1, 0, 1, 0], [0, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0]]);
      const { grads, value } = tf.variableGrads(() => maskedLoss(tf, m.logits(x), t, 2), [...m.variables]);
      const norms = m.variables.map((v, i) => ({ name: m.layout.entries[i]?.name, norm: tf.norm(grads[v.name] as never).dataSync()[0] }));
      for (const g of norms) {
        if (g.name?.startsWith('head_1')) expect(g.norm, g.name).toBe(0);
        else expect(g.norm, g.name).toBeGreaterThan(0);
      }
      expect(value.dataSync()[0]).toBeGreaterThan(0);
      tf.dispose([x, t, value, ...Object.values(grads)]);
    } finally {
      m.dispose();
    }
  });
});

describe('trainLocal', () => {
  it('learns a separable multi-task problem with missing labels (AUROC > 0.9 on holdout for both heads)', async () => {
    const rows = syntheticRows({ n: 300, missingAdverse: 0.3, missingNumeric: 0.05 });
    const progress: number[] = [];
    const r = await trainLocal({
      rows,
      specs: SPECS,
      hyper: { model: 'mlp', hidden: [8], epochs: 25, batchSize: 32, learningRate: 0.03, patience: 25 },
      onProgress: (epoch) => void progress.push(epoch),
    });
    expect(r.metrics.drug_response?.auroc).toBeGreaterThan(0.9);
    expect(r.metrics.adverse_event?.auroc).toBeGreaterThan(0.9);
    expect(r.metrics.drug_response?.f1).toBeGreaterThan(0.8);
    expect(r.metrics.adverse_event?.n).toBeLessThan(r.holdoutSamples); // missing labels excluded from its metrics
    expect(r.numSamples + r.holdoutSamples).toBe(300);
    expect(progress).toEqual(Array.from({ length: r.epochs }, (_, i) => i + 1));
    expect(r.delta.length).toBe(r.layout.total);
  });

  it('trains logistic regression from a given global model and returns delta = local - global', async () => {
    const rows = syntheticRows({ n: 200 });
    const first = await trainLocal({ rows, specs: SPECS, hyper: { model: 'logreg', epochs: 2 } });
    const global = first.weights;
    const r = await trainLocal({ rows, specs: SPECS, globalWeights: global, hyper: { model: 'logreg', epochs: 3, learningRate: 0.05 } });
    expect(r.layout.total).toBe(2 * (9 + 1)); // 9 input columns, 2 heads
    expect(Array.from(r.delta)).toEqual(Array.from(computeDelta(r.weights, global)));
    expect(r.delta.some((d) => d !== 0)).toBe(true);
  });

  it('leaves a head whose label is missing everywhere exactly at the global weights', async () => {
    const rows = syntheticRows({ n: 150, missingAdverse: 1 });
    const r = await trainLocal({ rows, specs: SPECS, hyper: { model: 'mlp', hidden: [6], epochs: 4 } });
    const [k, b] = entry(r.layout, 'head_1_adverse_event');
    const head = r.delta.subarray(k!.offset, b!.offset + b!.size);
    expect(head.every((d) => d === 0)).toBe(true);
    const trunk = entry(r.layout, 'trunk_0')[0]!;
    expect(r.delta.subarray(trunk.offset, trunk.offset + trunk.size).some((d) => d !== 0)).toBe(true);
    expect(r.metrics.adverse_event?.n).toBe(0);
  });

  it('FedProx keeps the local model closer to the global one', async () => {
    const rows = syntheticRows({ n: 200 });
    const hyper = { model: 'mlp' as const, hidden: [6], epochs: 4, learningRate: 0.05, patience: 10 };
    const norm = (d: Float32Array): number => Math.sqrt(d.reduce((s, v) => s + v * v, 0));
    const plain = await trainLocal({ rows, specs: SPECS, hyper });
    const prox = await trainLocal({ rows, specs: SPECS, hyper: { ...hyper, proxMu: 50 } });
    expect(norm(prox.delta)).toBeLessThan(0.8 * norm(plain.delta));
  });

  it('applies the injected privacy hook to the delta only', async () => {
    const rows = syntheticRows({ n: 120 });
    const seen: Float32Array[] = [];
    const r = await trainLocal({
      rows,
      specs: SPECS,
      hyper: { model: 'logreg', epochs: 2 },
      privacy: { clipAndNoiseUpdate: (d) => (seen.push(d.slice()), new Float32Array(d.length).fill(0.25)) },
    });
    expect(seen).toHaveLength(1);
    expect(r.delta.every((d) => d === 0.25)).toBe(true);
    expect(seen[0]?.some((d) => d !== 0.25)).toBe(true);
  });

  it('refuses bad hyper-parameters and global weights of another layout with clear errors', async () => {
    const rows = syntheticRows({ n: 60 });
    await expect(trainLocal({ rows, specs: SPECS, hyper: { epochs: 0 } as never })).rejects.toThrow(/invalid training hyper-parameters/);
    await expect(trainLocal({ rows, specs: SPECS, globalWeights: new Float32Array(3), hyper: { epochs: 1 } })).rejects.toThrow(
      /global model was built from another feature schema|weights have 3 values/,
    );
    await expect(trainLocal({ rows: [], specs: SPECS })).rejects.toThrow(/no training rows/);
  });
});

describe('runLocalRounds', () => {
  it('chains rounds on one site: round 2 starts from round 1 weights', async () => {
    const rows = syntheticRows({ n: 120 });
    const seen: number[] = [];
    const [r1, r2] = await runLocalRounds({
      site: 'site-a',
      rowSource: { loadRows: async (site) => (site === 'site-a' ? rows : []) },
      specs: SPECS,
      rounds: 2,
      hyper: { model: 'logreg', epochs: 2 },
      onProgress: (round) => void seen.push(round),
    });
    expect(Array.from(r2!.delta)).toEqual(Array.from(computeDelta(r2!.weights, r1!.weights)));
    expect(new Set(seen)).toEqual(new Set([0, 1]));
  });
});
