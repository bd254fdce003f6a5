import { describe, expect, it } from 'vitest';
import type { FhirfedError } from '../../src/core/errors.js';
import type { FeatureSpec } from '../../src/harmonize/schema.js';
import { isQuarantine, type Cell, type RowFn, type RowTransformer, type Transformer } from '../../src/harmonize/transformers/contract.js';
import { builtinRegistry } from '../../src/harmonize/transformers/registry.js';
import { ngspToIfcc } from '../../src/harmonize/transformers/hba1c.js';

const registry = builtinRegistry();

function feature(over: Partial<FeatureSpec> & { name: string }): FeatureSpec {
  return { type: 'number', missing: 'null', label: false, strictAnnotations: false, ...over };
}

function make(name: string, f: FeatureSpec, params?: unknown): RowFn {
  const def = registry.get(name) as Transformer;
  const parsed = def.params.safeParse(params);
  if (!parsed.success) throw new Error(`bad params: ${JSON.stringify(parsed.error.issues)}`);
  return (def as RowTransformer).create(parsed.data, { feature: f, siteDir: '.', site: 'test' });
}

function chain(f: FeatureSpec, steps: [string, unknown?][], cell: Cell) {
  let out: ReturnType<RowFn> = cell;
  for (const [name, params] of steps) {
    if (isQuarantine(out) || 'kind' in out) return out;
    out = make(name, f, params)(out, { patientKey: 'Patient/1' });
  }
  return out;
}

const cell = (value: number, unit?: string): Cell => ({ value, ...(unit ? { unit } : {}), resourceKey: 'Observation/1', column: 'labs.value' });
const glucose = feature({ name: 'glucose', unit: 'mmol/L', loinc: '2339-0' });
const hba1c = feature({ name: 'hba1c', unit: 'mmol/mol', loinc: '4548-4' });
const egfr = feature({ name: 'egfr', unit: 'mL/min/{1.73_m2}', loinc: '33914-3', strictAnnotations: true });
const temperature = feature({ name: 'temperature', unit: 'Cel', loinc: '8310-5' });

describe('unit conversion acceptance values', () => {
  it('100 mg/dL glucose -> 5.55 mmol/L (molecular weight from the analyte table)', () => {
    const out = chain(glucose, [['unit-repair'], ['ucum', { accept: ['mg/dL'] }]], cell(100, 'mg/dl')) as Cell;
    expect(out.unit).toBe('mmol/L');
    expect(out.value as number).toBeCloseTo(5.55, 2);
  });

  it('7 % HbA1c -> 53 mmol/mol by the IFCC master equation, not UCUM (which gives 70)', () => {
    const out = chain(hba1c, [['hba1c'], ['ucum', { accept: ['mmol/mol'] }]], cell(7, '%')) as Cell;
    expect(Math.round(out.value as number)).toBe(53);
    expect(ngspToIfcc(7)).toBeCloseTo((7 - 2.15) * 10.929, 10);
  });

  it('refuses % -> mmol/mol through ucum alone, at load time and per value', () => {
    expect(() => make('ucum', hba1c, { accept: ['%'] })).toThrow(/affine formula/);
    const q = make('ucum', hba1c, {})(cell(7, '%'), { patientKey: 'Patient/1' });
    expect(isQuarantine(q) && q.code).toBe('unit-needs-analyte-rule');
  });

  it('reads a temperature in `C` as Celsius (and `F` as Fahrenheit)', () => {
    const c = chain(temperature, [['unit-repair'], ['ucum', { accept: ['Cel', '[degF]'] }]], cell(37.2, 'C')) as Cell;
    expect(c).toMatchObject({ value: 37.2, unit: 'Cel' });
    const f = chain(temperature, [['unit-repair'], ['ucum', {}]], cell(98.6, 'F')) as Cell;
    expect(f.value as number).toBeCloseTo(37, 5);
  });

  it('does not read `C` as Celsius for a feature that is not a temperature', () => {
    const out = make('unit-repair', glucose)(cell(1, 'C'), { patientKey: 'Patient/1' }) as Cell;
    expect(out.unit).toBe('C');
  });

  it('eGFR in mL/min/{1.73_m2} passes; plain mL/min is quarantined because the schema demands the annotation', () => {
    const ok = chain(egfr, [['unit-repair'], ['ucum', {}]], cell(72, 'mL/min/{1.73_m2}')) as Cell;
    expect(ok).toMatchObject({ value: 72, unit: 'mL/min/{1.73_m2}' });
    const q = chain(egfr, [['unit-repair'], ['ucum', {}]], cell(72, 'mL/min'));
    expect(isQuarantine(q) && q.code).toBe('unit-annotation-mismatch');
  });

  it('eGFR in mL/min is accepted when the site declares it BSA-normalised with unit-repair', () => {
    const out = chain(egfr, [['unit-repair', { extra: { 'mL/min': 'mL/min/{1.73_m2}' } }], ['ucum', {}]], cell(72, 'mL/min')) as Cell;
    expect(out).toMatchObject({ value: 72, unit: 'mL/min/{1.73_m2}' });
  });

  it('repairs mmHg to mm[Hg]', () => {
    const bp = feature({ name: 'systolic_bp', unit: 'mm[Hg]' });
    expect(chain(bp, [['unit-repair'], ['ucum', {}]], cell(120, 'mmHg'))).toMatchObject({ value: 120, unit: 'mm[Hg]' });
  });

  it('mass <-> mole without a molecular weight is a load-time unit error', () => {
    const noMw = feature({ name: 'x', unit: 'mmol/L' });
    try {
      make('ucum', noMw, { accept: ['mg/dL'] });
      expect.unreachable();
    } catch (e) {
      expect((e as FhirfedError).code).toBe('FHIRFED_ERR_UNIT');
      expect((e as Error).message).toMatch(/molecular weight/);
    }
    expect(() => make('ucum', noMw, { accept: ['mg/dL'], molecularWeight: 180.156 })).not.toThrow();
  });
});

describe('plausibility and other built-ins', () => {
  it('quarantines an implausible value with a reason and keeps plausible ones', () => {
    const p = make('plausibility', glucose);
    expect(p(cell(5.5, 'mmol/L'), { patientKey: 'P' })).toMatchObject({ value: 5.5 });
    const q = p(cell(550, 'mmol/L'), { patientKey: 'P' });
    expect(isQuarantine(q) && q.code).toBe('implausible-value');
  });

  it('needs a range from somewhere', () => {
    expect(() => make('plausibility', feature({ name: 'x', unit: 'g' }))).toThrow(/no plausible range/);
  });

  it('one-hot expands categories from the schema', () => {
    const sex = feature({ name: 'sex', type: 'categorical', codes: ['female', 'male'] });
    const out = make('one-hot', sex)({ value: 'male', resourceKey: 'Patient/1', column: 'p.gender' }, { patientKey: 'P' }) as Cell;
    expect(out.expand).toEqual({ female: 0, male: 1 });
    expect(() => make('one-hot', glucose)).toThrow(/categorical/);
  });

  it('age in whole years at the index date', () => {
    const age = make('age', feature({ name: 'age', type: 'integer', unit: 'a' }));
    const out = age({ value: '1970-06-15', resourceKey: 'Patient/1', column: 'p.birth' }, { patientKey: 'P', indexDate: new Date('2020-06-14T00:00:00Z') }) as Cell;
    expect(out.value).toBe(49);
  });

  it('the registry refuses unknown names and malformed transformers', () => {
    expect(registry.get('no-such')).toBeUndefined();
    const r = registry.clone();
    expect(() => r.register({ name: 'ucum' } as unknown as Transformer)).toThrow(/not a transformer/);
    expect(() => r.register(registry.get('ucum') as Transformer)).toThrow(/already registered/);
  });
});
