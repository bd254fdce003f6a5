import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observation, FhirResource } from 'fhir/r4.js';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFederation, writeDemoSite, type DemoSite, type PatientTruth } from '../../src/demo/data/index.js';
import { STANDARDISE } from '../../src/demo/data/model.js';
import { convertToFhir, parseHl7 } from '../../src/ingest/hl7v2/index.js';

const sites = generateFederation({ seed: 42, patientsPerSite: 300 });
const byId = (id: string) => sites.find((s) => s.id === id) as DemoSite;
const tmp = mkdtempSync(join(tmpdir(), 'fhirfed-demo-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function observations(site: DemoSite): Observation[] {
  return (site.resources ?? []).filter((r): r is Observation => r.resourceType === 'Observation');
}

function units(obs: readonly Observation[], code: string): Set<string> {
  return new Set(obs.filter((o) => o.code.coding?.some((c) => c.code === code)).map((o) => o.valueQuantity?.code ?? o.valueQuantity?.unit ?? '(none)'));
}

describe('generateFederation', () => {
  it('is a pure function of the seed', () => {
    const again = generateFederation({ seed: 42, patientsPerSite: 300 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(sites));
    const other = generateFederation({ seed: 43, patientsPerSite: 300 });
    expect(JSON.stringify(other.map((s) => s.truth))).not.toBe(JSON.stringify(sites.map((s) => s.truth)));
  });

  it('builds four sites with the declared transports and sizes', () => {
    expect(sites.map((s) => [s.id, s.transport, s.truth.length])).toEqual([
      ['demo-hospital-c', 'mllp', 300],
      ['hospital-b', 'fhir-rest', 375],
      ['hospital-a', 'bulk-ndjson', 300],
      ['demo-hospital-d', 'fhir-rest', 180],
    ]);
    expect(() => generateFederation({ seed: 1, patientsPerSite: 0 })).toThrow(/positive integer/);
  });

  it('has different outcome prevalences per site (non-IID)', () => {
    const rate = (t: readonly PatientTruth[], f: (p: PatientTruth) => boolean) => t.filter(f).length / t.length;
    const response = sites.map((s) => rate(s.truth, (p) => p.drugResponse));
    const adverse = sites.map((s) => rate(s.truth, (p) => p.adverseEvent));
    expect(Math.max(...response) - Math.min(...response)).toBeGreaterThan(0.2);
    expect(Math.max(...adverse) - Math.min(...adverse)).toBeGreaterThan(0.1);
    for (const r of [...response, ...adverse]) expect(r).toBeGreaterThan(0.1);
  });

  it('sends HL7 v2 that the gateway converter turns into Patients, Observations and MedicationRequests', () => {
    const c = byId('demo-hospital-c');
    const types = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const text of c.hl7Messages ?? []) {
      const msg = parseHl7(text);
      types.set(msg.messageType, (types.get(msg.messageType) ?? 0) + 1);
      for (const e of convertToFhir(msg).entry ?? []) {
        const r = e.resource as FhirResource;
        counts.set(r.resourceType, (counts.get(r.resourceType) ?? 0) + 1);
        if (r.resourceType === 'Observation' && r.valueQuantity && r.code.coding?.[0]?.code === 'GLU') {
          expect(r.valueQuantity).toMatchObject({ system: 'http://unitsofmeasure.org', code: 'mg/dL' });
          expect(r.code.coding[0]?.system).toBe('urn:fhirfed:v2:codesystem:99LAB');
        }
        if (r.resourceType === 'MedicationRequest') expect(r.authoredOn).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00-05:00$/);
      }
    }
    expect([...types.keys()].sort()).toEqual(['ADT^A01', 'ORU^R01', 'RDE^O11']);
    expect(types.get('ADT^A01')).toBe(300);
    expect(counts.get('MedicationRequest')).toBeGreaterThanOrEqual(300);
    expect(counts.get('Observation')).toBeGreaterThan(300 * 7);
  });

  it('writes units the way each site declares them', () => {
    const b = observations(byId('hospital-b'));
    expect(units(b, '15074-8')).toEqual(new Set(['mmol/L']));
    expect(units(b, '59261-8')).toEqual(new Set(['mmol/mol']));
    expect(units(b, '14682-9')).toEqual(new Set(['umol/L']));
    expect(b.every((o) => o.component || o.valueQuantity?.system === 'http://unitsofmeasure.org')).toBe(true);
    const a = observations(byId('hospital-a'));
    expect(units(a, 'GLU')).toEqual(new Set(['mg/dL', 'mmol/L']));
    expect(units(a, 'A1C')).toEqual(new Set(['%', 'mmol/mol']));
    expect(units(a, 'TEMP')).toEqual(new Set(['F']));
    expect(units(a, 'EGFR')).toEqual(new Set(['mL/min/1.73m2', 'mL/min']));
    const d = byId('demo-hospital-d');
    const corrupted = d.truth.flatMap((t) => t.corrupted).length;
    const withheld = d.truth.flatMap((t) => t.withheld).length;
    expect(corrupted).toBeGreaterThan(20);
    expect(withheld / (d.truth.length * 7)).toBeGreaterThan(0.25);
    expect(byId('hospital-b').truth.flatMap((t) => t.corrupted)).toEqual([]);
  });

  it('produces structurally sound FHIR R4 that references its own patients', () => {
    for (const site of sites.filter((s) => s.resources)) {
      const patients = new Set(site.resources?.filter((r) => r.resourceType === 'Patient').map((r) => `Patient/${r.id}`));
      expect(patients.size).toBe(site.truth.length);
      for (const r of site.resources ?? []) {
        expect(r.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
        if (r.resourceType === 'Observation') {
          expect(r.status).toBe('final');
          expect(r.code.coding?.[0]?.system).toMatch(/^http/);
          expect(patients.has(r.subject?.reference ?? '')).toBe(true);
          expect(r.effectiveDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
        }
        if (r.resourceType === 'MedicationRequest') expect(r).toMatchObject({ intent: 'order', status: 'active' });
      }
    }
    const bulk = byId('hospital-a');
    expect(Object.keys(bulk.ndjson ?? {}).sort()).toEqual(['Condition.000.ndjson', 'MedicationRequest.000.ndjson', 'Observation.000.ndjson', 'Patient.000.ndjson']);
    const lines = Object.values(bulk.ndjson ?? {}).reduce((n, text) => n + text.trim().split('\n').length, 0);
    expect(lines).toBe(bulk.resources?.length);
  });

  it('writes each site in its transport form plus a separate truth file', async () => {
    const written = await Promise.all(sites.map((s) => writeDemoSite(s, join(tmp, s.id))));
    expect(written[0]?.dataFiles.map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual(['messages.hl7']);
    expect(readdirSync(join(tmp, 'hospital-a')).sort()).toEqual(['Condition.000.ndjson', 'MedicationRequest.000.ndjson', 'Observation.000.ndjson', 'Patient.000.ndjson', 'truth.json']);
    const hl7 = readFileSync(join(tmp, 'demo-hospital-c', 'messages.hl7'), 'utf8');
    expect(hl7.split('\r\nMSH|').length).toBe(byId('demo-hospital-c').hl7Messages?.length);
    const truth = JSON.parse(readFileSync(written[1]?.truthFile ?? '', 'utf8')) as { patients: unknown[] };
    expect(truth.patients).toHaveLength(375);
  });
});

describe('ground truth', () => {
  /** True features -> standardised design row (the features the outcome models use, plus BP and creatinine as noise). */
  function design(t: PatientTruth): number[] {
    const f = t.features;
    const zs = (v: number, s: { mean: number; sd: number }) => (v - s.mean) / s.sd;
    return [
      1,
      zs(f.age, STANDARDISE.age),
      zs(f.bmi, STANDARDISE.bmi),
      zs(f.hba1c, STANDARDISE.hba1c),
      zs(f.glucose, STANDARDISE.glucose),
      zs(f.egfr, STANDARDISE.egfr),
      zs(f.systolicBp, STANDARDISE.systolicBp),
      f.onMetformin ? 1 : 0,
      f.onInsulin ? 1 : 0,
      f.sex === 'female' ? 1 : 0,
    ];
  }

  function fitLogistic(x: number[][], y: number[], epochs = 300, lr = 0.5): number[] {
    const w = new Array<number>(x[0]?.length ?? 0).fill(0);
    for (let e = 0; e < epochs; e++) {
      const grad = new Array<number>(w.length).fill(0);
      x.forEach((row, i) => {
        const p = 1 / (1 + Math.exp(-row.reduce((s, v, j) => s + v * (w[j] as number), 0)));
        const err = p - (y[i] as number);
        row.forEach((v, j) => (grad[j] = (grad[j] as number) + err * v));
      });
      grad.forEach((g, j) => (w[j] = (w[j] as number) - (lr * g) / x.length));
    }
    return w;
  }

  function auroc(scores: number[], y: number[]): number {
    const pos = scores.filter((_, i) => y[i] === 1);
    const neg = scores.filter((_, i) => y[i] === 0);
    let wins = 0;
    for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
    return wins / (pos.length * neg.length);
  }

  const all = sites.flatMap((s) => s.truth);
  const train = all.filter((_, i) => i % 3 !== 0);
  const test = all.filter((_, i) => i % 3 === 0);

  for (const [label, pick, truthP] of [
    ['drug response', (t: PatientTruth) => t.drugResponse, (t: PatientTruth) => t.pResponse],
    ['adverse event', (t: PatientTruth) => t.adverseEvent, (t: PatientTruth) => t.pAdverse],
  ] as const) {
    it(`${label}: a logistic regression on the true features learns it (held-out AUROC > 0.7)`, () => {
      const w = fitLogistic(train.map(design), train.map((t) => (pick(t) ? 1 : 0)));
      const scores = test.map((t) => design(t).reduce((s, v, j) => s + v * (w[j] as number), 0));
      const y = test.map((t) => (pick(t) ? 1 : 0));
      expect(auroc(scores, y)).toBeGreaterThan(0.7);
      // The generating probabilities themselves: learnable but not trivial.
      const oracle = auroc(test.map(truthP), y);
      expect(oracle).toBeGreaterThan(0.72);
      expect(oracle).toBeLessThan(0.92);
    });
  }
});
