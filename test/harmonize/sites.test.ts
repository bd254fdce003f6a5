import { describe, expect, it } from 'vitest';
import { harmonize } from '../../src/harmonize/harmonize.js';
import { loadSiteMapping } from '../../src/harmonize/mapping.js';
import { checkSchema } from '../../src/harmonize/schema.js';
import { parseSource } from '../../src/harmonize/source.js';

/** The shipped demo sites on small hand-made records, and schema checks with line numbers. */

const SECRET = 'test-secret-0123456789abcdef';
const LAB = 'http://hospital-a.example.org/codes/lab';

const obs = (id: string, system: string, code: string, value: number, unit: string, date: string) => ({
  resourceType: 'Observation', id, status: 'final', code: { coding: [{ system, code }] },
  subject: { reference: 'Patient/p1' }, effectiveDateTime: date, valueQuantity: { value, unit },
});
const med = (id: string, system: string, code: string, date: string) => ({
  resourceType: 'MedicationRequest', id, status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
  medicationCodeableConcept: { coding: [{ system, code }] }, authoredOn: date,
});

describe('shipped demo sites', () => {
  it('hospital-a: local codes via ConceptMap, US units, index date = first prescription, labels after it', async () => {
    const { mapping, problems } = await loadSiteMapping('mappings', 'hospital-a');
    expect(problems).toEqual([]);
    const resources = [
      { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1960-03-01' },
      med('m1', 'http://hospital-a.example.org/codes/formulary', 'MET500', '2021-01-10'),
      obs('o1', LAB, 'GLU', 180, 'mg/dl', '2020-12-01'),
      obs('o2', LAB, 'A1C', 8, '%', '2020-12-01'),
      obs('o3', LAB, 'A1C', 6.5, '%', '2021-06-01'), // after the index date: the label, not the predictor
      obs('o4', LAB, 'TEMP', 98.6, 'F', '2020-12-01'),
      obs('o5', LAB, 'EGFR', 64, 'mL/min', '2020-12-01'),
      obs('o6', LAB, 'CREA', 1.1, 'mg/dL', '2020-12-01'),
      obs('o7', LAB, 'LACT', 1.1, 'mmol/L', '2020-12-01'),
    ];
    const { rows, report } = await harmonize(resources, mapping!, { siteSecret: SECRET });
    expect(rows).toHaveLength(1);
    const v = rows[0]!.values;
    expect(v.age).toBe(60);
    expect(v['sex=female']).toBe(1);
    expect(v.glucose as number).toBeCloseTo(9.99, 2);
    expect(Math.round(v.hba1c as number)).toBe(64);
    expect(v.temperature as number).toBeCloseTo(37, 5);
    expect(v.egfr).toBe(64); // declared BSA-normalised by hospital-a's unit-repair
    expect(v.creatinine as number).toBeCloseTo(97.2, 1);
    expect(v.on_metformin).toBe(true);
    expect(v.on_insulin).toBe(false); // missing policy constant
    expect(v.drug_response).toBe(true); // 6.5 % after the index date
    expect(v.adverse_event).toBe(false);
    expect(report.unmappedCodes).toEqual([{ view: 'labs', code: `${LAB}|LACT`, count: 1 }]);
  });

  it('hospital-b: SI units pass through, mg/dL glucose is still converted', async () => {
    const { mapping, problems } = await loadSiteMapping('mappings', 'hospital-b');
    expect(problems).toEqual([]);
    const resources = [
      med('m1', 'http://www.whocc.no/atc', 'A10BA02', '2021-01-10'),
      obs('o1', 'http://loinc.org', '2345-7', 100, 'mg/dL', '2020-12-01'),
      obs('o2', 'http://loinc.org', '4548-4', 53, 'mmol/mol', '2020-12-01'),
      obs('o3', 'http://loinc.org', '4548-4', 60, 'mmol/mol', '2021-03-01'),
    ];
    const { rows } = await harmonize(resources, mapping!, { siteSecret: SECRET });
    expect(rows[0]!.values).toMatchObject({ hba1c: 53, on_metformin: true, drug_response: false });
    expect(rows[0]!.values.glucose as number).toBeCloseTo(5.55, 2);
  });
});

describe('schema checks', () => {
  it('reports every problem with its line', () => {
    const text = ['version: 1', 'federation: x', 'features:', '  sex:', '    type: categorical', '  bmi:', '    type: number', '    unit: kgm2', '    range: [50, 10]', ''].join('\n');
    const { source } = parseSource(text, 'schema.yaml');
    const { schema, problems } = checkSchema(source!);
    expect(schema).toBeUndefined();
    const lines = problems.map((p) => `${p.line} ${p.path}`);
    expect(lines).toContain('4 features.sex.codes');
    expect(lines).toContain('9 features.bmi.range');
  });

  it('flags an invalid UCUM unit and a schema without labels', () => {
    const text = ['version: 1', 'federation: x', 'features:', '  bmi:', '    type: number', '    unit: kgm2', ''].join('\n');
    const { problems } = checkSchema(parseSource(text, 's.yaml').source!);
    expect(problems.map((p) => p.message)).toEqual(['`kgm2` is not a valid UCUM unit', 'the schema declares no label (`label: true`)']);
    expect(problems[0]?.line).toBe(6);
  });
});
