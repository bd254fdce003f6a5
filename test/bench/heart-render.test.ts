import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observation } from 'fhir/r4.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  approximateMode,
  heartSiteResources,
  loadHeartDisease,
  renderHeartSite,
  splitsByRowKey,
  stratifiedTestSet,
  writeRenderedHeartSite,
  type HeartDataset,
  type HeartSiteId,
  type RenderedHeartSite,
} from '../../src/bench/heart/index.js';
import { harmonize } from '../../src/harmonize/harmonize.js';
import { loadSiteMapping } from '../../src/harmonize/mapping.js';

const DIR = '../shared/datasets/heart-disease';
const hasData = existsSync(DIR);
const REASON = `${DIR} is absent (the UCI Heart Disease files live outside the repository)`;
const SECRET = 'heart-test-secret-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'fhirfed-heart-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('stratified split (no data needed)', () => {
  it('allocates per class like sklearn (largest remainder) and sizes like train_test_split(train_size=0.66)', () => {
    expect(approximateMode([164, 139], 199)).toEqual([108, 91]);
    const labels = [...Array<number>(164).fill(0), ...Array<number>(139).fill(1)];
    const test = stratifiedTestSet(labels, 1);
    expect(test.size).toBe(104);
    expect([...test].filter((i) => labels[i] === 1).length).toBe(139 - 91);
    expect(stratifiedTestSet(labels, 1)).toEqual(test);
    expect(stratifiedTestSet(labels, 2)).not.toEqual(test);
  });

  it('refuses a missing folder with a clear error', () => {
    expect(() => loadHeartDisease({ dir: join(tmp, 'nope') })).toThrow(/not found/);
  });
});

describe.skipIf(!hasData)(`heart disease rendering (${hasData ? 'data present' : REASON})`, () => {
  const data = hasData ? loadHeartDisease({ dir: DIR }) : (undefined as unknown as HeartDataset);
  const rendered = new Map<HeartSiteId, RenderedHeartSite>();
  const get = (id: HeartSiteId) => {
    let r = rendered.get(id);
    if (!r) rendered.set(id, (r = renderHeartSite(data.sites.find((s) => s.site === id) as NonNullable<(typeof data.sites)[number]>)));
    return r;
  };

  it('applies the FLamby protocol: row counts and train/test sizes per center as published', () => {
    const counts = data.sites.map((s) => [s.site, s.rows.filter((r) => r.split === 'train').length, s.rows.filter((r) => r.split === 'test').length]);
    expect(counts).toEqual([
      ['heart-cleveland', 199, 104],
      ['heart-hungary', 172, 89],
      ['heart-switzerland', 30, 16],
      ['heart-va', 85, 45],
    ]);
    for (const s of data.sites) {
      // Stratified: the test set's positive share is within one patient of the center's.
      const pos = s.rows.filter((r) => r.label === 1).length / s.rows.length;
      const test = s.rows.filter((r) => r.split === 'test');
      expect(Math.abs(test.filter((r) => r.label === 1).length - pos * test.length)).toBeLessThanOrEqual(1);
    }
    const first = data.sites[0]?.rows[0];
    expect(first).toMatchObject({ key: 'cleveland-0001', age: 63, sex: 1, cp: 1, trestbps: 145, chol: 233, num: 0, label: 0 });
    expect(data.splitOf('heart-cleveland', 'cleveland-0001')).toBe(first?.split);
    expect(() => data.splitOf('heart-va', 'va-9999')).toThrow(/no patient/);
  });

  it('renders Cleveland/Hungary as FHIR with LOINC + UCUM and Switzerland/VA as HL7 that the converter reads', () => {
    const cle = get('heart-cleveland');
    const obs = (cle.resources ?? []).filter((r): r is Observation => r.resourceType === 'Observation');
    const chol = obs.find((o) => o.code.coding?.[0]?.code === '2093-3');
    expect(chol?.valueQuantity).toEqual({ value: 233, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' });
    expect(obs.filter((o) => o.code.coding?.[0]?.code === '8480-6').every((o) => o.code.coding?.[0]?.system === 'http://loinc.org')).toBe(true);
    const va = get('heart-va');
    const vaObs = heartSiteResources(va).filter((r): r is Observation => r.resourceType === 'Observation');
    const molar = vaObs.filter((o) => o.code.coding?.[0]?.code === '14647-2');
    expect(molar.length).toBeGreaterThan(50);
    expect(molar.every((o) => o.valueQuantity?.code === 'mmol/L')).toBe(true);
    expect(va.patients.every((p) => !p.patientKey.endsWith('?'))).toBe(true);
  });

  for (const id of ['heart-cleveland', 'heart-hungary', 'heart-switzerland', 'heart-va'] as const) {
    it(`${id}: harmonizes to the source values (unit conversion within tolerance) with splits recoverable by key`, async () => {
      const site = get(id);
      const loaded = await loadSiteMapping('mappings/heart', id);
      expect(loaded.problems).toEqual([]);
      const { rows } = await harmonize(heartSiteResources(site), loaded.mapping as NonNullable<typeof loaded.mapping>, { siteSecret: SECRET });
      expect(rows).toHaveLength(site.patients.length);
      const splits = splitsByRowKey(site, SECRET);
      const CP = ['', 'typical-angina', 'atypical-angina', 'non-anginal', 'asymptomatic'];
      const ECG = ['normal', 'st-t-abnormality', 'lv-hypertrophy'];
      for (const row of rows) {
        const src = splits.get(row.key);
        expect(src, 'every harmonized row maps back to a source row').toBeDefined();
        const r = (src as NonNullable<typeof src>).row;
        const v = row.values;
        expect(row.quarantined).toEqual([]);
        expect(v.age).toBe(r.age);
        expect(v.sex).toBe(r.sex === 1 ? 'male' : 'female');
        expect(v.cp).toBe(CP[r.cp]);
        expect(v[`cp=${CP[r.cp] as string}`]).toBe(1);
        expect(v.restecg).toBe(ECG[r.restecg]);
        expect(v.trestbps).toBe(r.trestbps > 0 ? r.trestbps : null);
        if (r.chol > 0) expect(Math.abs((v.chol as number) - r.chol)).toBeLessThanOrEqual(0.2);
        else expect(v.chol).toBeNull();
        expect(v.fbs).toBe(r.fbs === 1);
        expect(v.exang).toBe(r.exang === 1);
        expect(v.thalach).toBeCloseTo(r.thalach, 9);
        expect(v.oldpeak).toBeCloseTo(r.oldpeak, 9);
        expect(v.heart_disease).toBe(r.label === 1);
      }
      const testRows = rows.filter((row) => splits.get(row.key)?.split === 'test').length;
      expect(testRows).toBe(site.patients.filter((p) => p.split === 'test').length);
    });
  }

  it('writes the gateway inputs and a key -> split file', async () => {
    const site = get('heart-switzerland');
    const [file] = await writeRenderedHeartSite(site, join(tmp, site.site));
    expect(readFileSync(file as string, 'utf8').split('\r\nMSH|').length).toBe(site.hl7Messages?.length);
    const splits = JSON.parse(readFileSync(join(tmp, site.site, 'splits.json'), 'utf8')) as Record<string, { split: string }>;
    expect(Object.values(splits).filter((s) => s.split === 'test')).toHaveLength(16);
  });
});
