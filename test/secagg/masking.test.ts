import { describe, expect, it } from 'vitest';
import { FixedPointCodec } from '../../src/secagg/fixedpoint.js';
import { RoundGraph } from '../../src/secagg/graph.js';
import { federation, maxAbsDiff, randomUpdate, runRound } from './harness.js';

const LEN = 257; // odd on purpose: no accidental alignment

function updatesFor(ids: readonly string[], len = LEN, scale = 1): Map<string, Float32Array> {
  return new Map(ids.map((id) => [id, randomUpdate(len, scale)]));
}

describe('fixed-point ring encoding', () => {
  it('round-trips within 2^-(f+1) and documents range and error', () => {
    const c = new FixedPointCodec({ maxSummands: 10 });
    expect(c.maxAbs).toBeCloseTo(3276.8, 3);
    expect(c.maxAbs * 10 * 2 ** 16).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(c.sumErrorBound).toBeCloseTo(10 * 2 ** -17, 12);
    const x = Float32Array.from([0, 1.5, -1.5, 3276.7, -3276.7, 1e-6]);
    const back = c.decode(c.encode(x));
    expect(maxAbsDiff(back, x)).toBeLessThanOrEqual(2 ** -17 + 1e-3 * 2 ** -17 + 4e-4 /* float32 of 3276.7 */);
  });

  it('refuses values outside the range instead of wrapping', () => {
    const c = new FixedPointCodec({ maxSummands: 10 });
    expect(() => c.encode(Float32Array.from([0, 5000]))).toThrow(/index 1 is outside the fixed-point range/);
    expect(() => c.encode(Float32Array.from([NaN]))).toThrow(/outside/);
  });
});

describe('pairwise masking (Bonawitz et al. 2017)', () => {
  it.each([2, 3, 5, 10, 20])('masked sum of %i sites equals the plain sum within the quantization bound', async (n) => {
    const fed = federation(n);
    const updates = updatesFor(fed.ids, LEN, 2);
    const { result, plainSum } = await runRound(fed, updates, { vectorLength: LEN, maxDropouts: 0 });
    expect(result.survivors).toHaveLength(n);
    // Bound: n * 2^-(f+1) from rounding, plus float32 rounding of the decoded output.
    expect(maxAbsDiff(result.sum, plainSum)).toBeLessThanOrEqual(result.sumErrorBound + 1e-5);
    expect(result.sumErrorBound).toBeCloseTo(n * 2 ** -17, 12);
  });

  it('recovers the survivors’ sum when sites drop after key exchange (shares sent, no input)', async () => {
    const fed = federation(10);
    const updates = updatesFor(fed.ids);
    const dropped = ['site-02', 'site-05', 'site-09'];
    const { result, plainSum } = await runRound(fed, updates, { vectorLength: LEN, maxDropouts: 3 }, { afterShares: dropped });
    expect(result.dropped).toEqual(dropped);
    expect(result.survivors).toHaveLength(7);
    expect(maxAbsDiff(result.sum, plainSum)).toBeLessThanOrEqual(result.sumErrorBound + 1e-5);
    // The recovered sum is not the sum of all ten (the dropped sites' inputs are out).
    const all = new Float64Array(LEN);
    for (const u of updates.values()) u.forEach((x, i) => (all[i] = (all[i] as number) + x));
    expect(maxAbsDiff(result.sum, all)).toBeGreaterThan(0.01);
  });

  it('tolerates dropouts at every stage up to maxDropouts in total', async () => {
    const fed = federation(12);
    const updates = updatesFor(fed.ids);
    const { result, plainSum } = await runRound(fed, updates, { vectorLength: LEN, maxDropouts: 4 }, {
      afterAdvertise: ['site-00'],
      afterShares: ['site-04', 'site-07'],
      silentInUnmask: ['site-11'],
    });
    expect(result.dropped).toEqual(['site-04', 'site-07']);
    expect(maxAbsDiff(result.sum, plainSum)).toBeLessThanOrEqual(result.sumErrorBound + 1e-5);
  });

  it('fails clearly when more sites drop than the threshold allows', async () => {
    const fed = federation(6);
    const updates = updatesFor(fed.ids);
    await expect(runRound(fed, updates, { vectorLength: LEN, maxDropouts: 2 }, { afterShares: ['site-00', 'site-01', 'site-02'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_SECAGG',
      message: expect.stringMatching(/only 3 masked input\(s\); the threshold is 4/),
    });
  });

  it('refuses a dropout tolerance that would let the survivors unmask a single site', () => {
    expect(() => new RoundGraph('r', ['a', 'b', 'c', 'd'], { vectorLength: 1, maxDropouts: 2 })).toThrow(/more than half/);
  });
});

describe('SecAgg+ sparse graph (Bell et al. 2020)', () => {
  it('builds a k-regular graph and still sums correctly with dropouts', async () => {
    const fed = federation(16);
    const params = { vectorLength: LEN, maxDropouts: 2, graph: { kind: 'harary' as const, degree: 6 } };
    const g = new RoundGraph('round-1', fed.ids, params);
    for (const id of fed.ids) {
      expect(g.neighboursOf(id)).toHaveLength(6);
      for (const nb of g.neighboursOf(id)) expect(g.isEdge(nb, id)).toBe(true);
    }
    expect(g.threshold).toBe(5);
    const updates = updatesFor(fed.ids);
    const { result, plainSum } = await runRound(fed, updates, params, { afterShares: ['site-03', 'site-12'] });
    expect(result.survivors).toHaveLength(14);
    expect(maxAbsDiff(result.sum, plainSum)).toBeLessThanOrEqual(result.sumErrorBound + 1e-5);
  });
});
