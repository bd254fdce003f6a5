import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../../src/training/split.js';
import type { FeatureSpec, TrainingRow } from '../../src/training/types.js';

const label: FeatureSpec = { name: 'y', type: 'boolean', label: true };

function rows(pos: number, neg: number, missing: number): TrainingRow[] {
  const out: TrainingRow[] = [];
  for (let i = 0; i < pos; i++) out.push({ key: `p${i}`, values: { y: true } });
  for (let i = 0; i < neg; i++) out.push({ key: `n${i}`, values: { y: false } });
  for (let i = 0; i < missing; i++) out.push({ key: `m${i}`, values: { y: null } });
  return out;
}

const count = (rs: readonly TrainingRow[], v: boolean | null): number => rs.filter((r) => r.values.y === v).length;

describe('stratifiedSplit', () => {
  it('keeps each class in its proportion in the holdout', () => {
    const s = stratifiedSplit(rows(20, 180, 50), label, 0.2, 1);
    expect(count(s.holdout, true)).toBe(4);
    expect(count(s.holdout, false)).toBe(36);
    expect(count(s.holdout, null)).toBe(10);
    expect(s.train.length + s.holdout.length).toBe(250);
    const keys = new Set([...s.train, ...s.holdout].map((r) => r.key));
    expect(keys.size).toBe(250);
  });

  it('puts at least one row of a rare class in each part', () => {
    const s = stratifiedSplit(rows(2, 100, 0), label, 0.1, 3);
    expect(count(s.holdout, true)).toBe(1);
    expect(count(s.train, true)).toBe(1);
  });

  it('is deterministic for a seed, whatever the input order, and changes with the seed', () => {
    const data = rows(30, 70, 0);
    const a = stratifiedSplit(data, label, 0.3, 42).holdout.map((r) => r.key);
    const b = stratifiedSplit([...data].reverse(), label, 0.3, 42).holdout.map((r) => r.key);
    const c = stratifiedSplit(data, label, 0.3, 43).holdout.map((r) => r.key);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('rejects a holdout fraction outside (0, 1) with a clear error', () => {
    expect(() => stratifiedSplit(rows(2, 2, 0), label, 1, 1)).toThrow(/holdout fraction must be between 0 and 1/);
  });
});
