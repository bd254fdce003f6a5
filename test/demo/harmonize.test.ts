import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoSiteResources, generateFederation, patientKeys, writeDemoSite, type DemoSite, type PatientTruth } from '../../src/demo/data/index.js';
import { harmonize, type FeatureRow } from '../../src/harmonize/harmonize.js';
import { loadSiteMapping } from '../../src/harmonize/mapping.js';
import { pseudonym } from '../../src/harmonize/pseudonym.js';

/**
 * End to end on the real pieces: each demo site's data (the HL7 site through the gateway's v2 converter) harmonized
 * through its own mapping folder in mappings/sites, compared patient by patient with the generator's ground truth.
 */

const SECRET = 'demo-test-secret-0123456789';
const sites = generateFederation({ seed: 5, patientsPerSite: 150 });
const tmp = mkdtempSync(join(tmpdir(), 'fhirfed-demo-harm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Joined {
  readonly truth: PatientTruth;
  readonly row: FeatureRow;
}

async function run(site: DemoSite): Promise<{ joined: Joined[]; rows: FeatureRow[] }> {
  const loaded = await loadSiteMapping('mappings', site.id);
  expect(loaded.problems).toEqual([]);
  const resources = demoSiteResources(site);
  const { rows } = await harmonize(resources, loaded.mapping as NonNullable<typeof loaded.mapping>, { siteSecret: SECRET });
  const keys = patientKeys(site, resources);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const joined = site.truth.map((truth) => {
    const key = keys.get(truth.id);
    const row = key ? byKey.get(pseudonym(key, SECRET)) : undefined;
    if (!row) throw new Error(`no harmonized row for ${site.id} patient ${truth.id}`);
    return { truth, row };
  });
  return { joined, rows };
}

/** Expected canonical value and tolerance (site rounding: mg/dL integers, % to 0.1, creatinine mg/dL to 0.01). */
function expected(t: PatientTruth, feature: string, site: string): [number, number] | undefined {
  const f = t.features;
  switch (feature) {
    case 'glucose':
      return [f.glucose, 0.06];
    case 'hba1c':
      return [f.hba1c, 0.6];
    case 'creatinine':
      return [f.creatinine, 0.5];
    case 'egfr':
      return [site === 'demo-hospital-c' ? Math.min(f.egfr, 90) : f.egfr, 0.01];
    case 'bmi':
      return [f.bmi, 0.01];
    case 'systolic_bp':
      return [f.systolicBp, 0.01];
    case 'temperature':
      return [f.temperature, 0.06];
    case 'age':
      return [f.age, 0];
    default:
      return undefined;
  }
}

const NUMERIC = ['glucose', 'hba1c', 'creatinine', 'egfr', 'bmi', 'systolic_bp', 'temperature', 'age'];

describe('demo sites harmonize through their mapping folders', () => {
  for (const id of ['demo-hospital-c', 'hospital-b', 'hospital-a', 'demo-hospital-d']) {
    it(`${id}: one row per patient, values equal to the truth, labels right`, async () => {
      const site = sites.find((s) => s.id === id) as DemoSite;
      const { joined, rows } = await run(site);
      expect(rows).toHaveLength(site.truth.length);
      let compared = 0;
      for (const { truth, row } of joined) {
        for (const feature of NUMERIC) {
          const v = row.values[feature];
          if (truth.withheld.includes(feature) || truth.corrupted.includes(feature)) {
            expect(v, `${truth.id} ${feature}`).toBeNull();
            continue;
          }
          const [want, tol] = expected(truth, feature, id) as [number, number];
          expect(typeof v, `${truth.id} ${feature}`).toBe('number');
          expect(Math.abs((v as number) - want), `${truth.id} ${feature}: ${String(v)} vs ${want}`).toBeLessThanOrEqual(tol + 1e-9);
          compared++;
        }
        if (!truth.withheld.includes('sex')) expect(row.values.sex).toBe(truth.features.sex);
        expect(row.values.on_metformin).toBe(truth.features.onMetformin);
        expect(row.values.on_insulin).toBe(truth.features.onInsulin);
        expect(row.values.drug_response).toBe(truth.responseReported ? truth.drugResponse : null);
        expect(row.values.adverse_event).toBe(truth.adverseEvent);
        // A corrupted value is quarantined with a recorded reason, never silently dropped or kept.
        for (const feature of truth.corrupted) expect(row.quarantined.some((q) => q.feature === feature)).toBe(true);
      }
      expect(compared).toBeGreaterThan(site.truth.length * 3);
    });
  }

  it('fill rates: the clean sites above 90 % for every lab, the low-quality site clearly lower', async () => {
    const fill = async (id: string) => {
      const { rows } = await run(sites.find((s) => s.id === id) as DemoSite);
      return Math.min(...['glucose', 'hba1c', 'creatinine', 'egfr', 'bmi', 'systolic_bp'].map((f) => rows.filter((r) => r.values[f] !== null).length / rows.length));
    };
    for (const id of ['demo-hospital-c', 'hospital-b', 'hospital-a']) expect(await fill(id)).toBeGreaterThan(0.9);
    expect(await fill('demo-hospital-d')).toBeLessThan(0.75);
  });

  it('`fhirfed mappings dry-run` reads the written files of the bulk site', async () => {
    const site = sites.find((s) => s.id === 'hospital-a') as DemoSite;
    const { dataFiles } = await writeDemoSite(site, join(tmp, site.id));
    const r = spawnSync(process.execPath, ['bin/fhirfed.js', 'mappings', 'dry-run', '--site', 'hospital-a', '--json', ...dataFiles], {
      encoding: 'utf8',
      env: { ...process.env, FHIRFED_LOG_LEVEL: 'silent' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { rows?: number; patients?: number };
    expect(JSON.stringify(report)).toMatch(/glucose/);
  });
});
