import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { describeSchema, encodeRows, fitStandardizer, validateRows } from '../../src/training/encode.js';
import type { FeatureSpec, TrainingRow } from '../../src/training/types.js';

const specs: FeatureSpec[] = [
  { name: 'age', type: 'number' },
  { name: 'sex', type: 'categorical', categories: ['F', 'M'] },
  { name: 'smoker', type: 'boolean' },
  { name: 'resp', type: 'categorical', categories: ['no', 'yes'], label: true },
  { name: 'ae', type: 'number', label: true },
];

const row = (key: string, age: number | null, sex: string | null, smoker: boolean | null, resp: string | null, ae: number | null): TrainingRow => ({
  key,
  values: { age, sex, smoker, resp, ae },
});

describe('encoding', () => {
  const info = describeSchema(specs);

  it('derives a schema-only column layout', () => {
    expect(info.columns).toEqual(['age', 'age__missing', 'sex=F', 'sex=M', 'smoker', 'smoker__missing']);
    expect(info.labels.map((l) => l.name)).toEqual(['resp', 'ae']);
  });

  it('standardises with train statistics, marks missing values, one-hot encodes, masks missing labels', () => {
    const train = [row('a', 10, 'F', true, 'yes', 1), row('b', 30, 'M', false, 'no', 0)];
    const st = fitStandardizer(train, info);
    expect(st.mean.get('age')).toBe(20);
    expect(st.sd.get('age')).toBeCloseTo(Math.SQRT2 * 10, 10);
    // A holdout row is encoded with the train statistics, never its own.
    const enc = encodeRows([row('c', 40, null, null, null, 1)], info, st);
    expect(Array.from(enc.x)).toEqual([Math.fround(20 / (Math.SQRT2 * 10)), 0, 0, 0, 0, 1]);
    expect(Array.from(enc.y)).toEqual([0, 1]);
    expect(Array.from(enc.mask)).toEqual([0, 1]);
    const missingAge = encodeRows([row('d', null, 'M', false, 'yes', null)], info, st);
    expect(Array.from(missingAge.x)).toEqual([0, 1, 0, 1, 0, 0]);
    expect(Array.from(missingAge.y)).toEqual([1, 0]);
    expect(Array.from(missingAge.mask)).toEqual([1, 0]);
  });

  it('refuses rows of the wrong width or type, naming row and field', () => {
    const bad: TrainingRow[] = [
      row('ok', 1, 'F', true, 'yes', 0),
      { key: 'short', values: { age: 1, sex: 'F', smoker: true, resp: 'yes' } },
      { key: 'typed', values: { age: 'old', sex: 'X', smoker: true, resp: 'yes', ae: 2 } },
    ];
    let err: unknown;
    try {
      validateRows(bad, specs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FhirfedError);
    const fe = err as FhirfedError;
    expect(fe.code).toBe('FHIRFED_ERR_VALIDATION');
    expect(fe.message).toMatch(/2 of 3 training rows do not match the feature schema \(5 features\)/);
    const text = fe.details.map((d) => `${d.path}: ${d.message}`).join('\n');
    expect(text).toMatch(/rows\[1\]: row short has 4 values, the schema has 5 features/);
    expect(text).toMatch(/rows\[1\]\.values\.ae: missing 'ae'/);
    expect(text).toMatch(/rows\[2\]\.values\.age: expected a finite number/);
    expect(text).toMatch(/rows\[2\]\.values\.sex: 'X' is not one of/);
    expect(text).toMatch(/rows\[2\]\.values\.ae: label must be 0, 1 or null/);
    expect(fe.hint).toBeTruthy();
  });

  it('refuses a schema without labels or with a non-binary categorical label', () => {
    expect(() => describeSchema([{ name: 'a', type: 'number' }])).toThrow(/not usable for training/);
    try {
      describeSchema([{ name: 'a', type: 'number' }, { name: 'y', type: 'categorical', categories: ['a', 'b', 'c'], label: true }]);
      expect.unreachable();
    } catch (e) {
      expect((e as FhirfedError).details[0]?.message).toMatch(/must be binary/);
    }
  });
});
