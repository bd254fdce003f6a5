import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { harmonize } from '../../src/harmonize/harmonize.js';
import { loadSiteMapping } from '../../src/harmonize/mapping.js';
import { readResources } from '../../src/harmonize/read-resources.js';
import { pseudonym } from '../../src/harmonize/pseudonym.js';
import { builtinRegistry } from '../../src/harmonize/transformers/registry.js';
import { loadCustomTransformers } from '../../src/harmonize/transformers/custom.js';
import { existsSync } from 'node:fs';

const SECRET = 'test-secret-0123456789abcdef';
const FIX = 'test/fixtures/mappings/valid';

const obs = (id: string, patient: string, code: string, value: number, unit: string, date: string) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: date,
  valueQuantity: { value, unit },
});

const temp = mkdtempSync(join(tmpdir(), 'fhirfed-harmonize-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('harmonize', () => {
  it('quarantines per value, keeps the row, and records provenance', async () => {
    const { mapping, problems } = await loadSiteMapping(FIX, 'clinic');
    expect(problems).toEqual([]);
    const resources = [
      obs('g1', 'p1', '2339-0', 100, 'mg/dL', '2020-01-01'),
      obs('g2', 'p1', '2339-0', 5000, 'mg/dL', '2020-02-01'), // implausible: quarantined, p1 keeps g1
      obs('a1', 'p1', '4548-4', 7, '%', '2020-01-01'),
      obs('g3', 'p2', '2339-0', 3, 'kg', '2020-01-01'), // not convertible: quarantined, p2's row survives
      obs('x1', 'p2', '8302-2', 170, 'cm', '2020-01-01'), // not mapped by any feature
    ];
    const { rows, report } = await harmonize(resources, mapping!, { siteSecret: SECRET });
    expect(rows).toHaveLength(2);
    const p1 = rows.find((r) => r.key === pseudonym('Patient/p1', SECRET))!;
    expect(p1.values.glucose as number).toBeCloseTo(5.55, 2);
    expect(Math.round(p1.values.hba1c as number)).toBe(53);
    expect(p1.quarantined).toEqual([expect.objectContaining({ feature: 'glucose', code: 'implausible-value' })]);
    expect(p1.provenance.glucose).toEqual({ resourceKey: 'Observation/g1', column: 'labs.value', chain: ['unit-repair@1.0.0', 'ucum@1.0.0', 'plausibility@1.0.0'] });
    const p2 = rows.find((r) => r.key === pseudonym('Patient/p2', SECRET))!;
    expect(p2.values.glucose).toBeNull();
    expect(p2.quarantined.map((q) => q.code)).toContain('unit-not-convertible');
    expect(report.quarantine).toMatchObject({ 'implausible-value': 1, 'unit-not-convertible': 2 });
    expect(report.unmappedCodes).toEqual([{ view: 'labs', code: 'http://loinc.org|8302-2', count: 1 }]);
    expect(report.features.find((f) => f.name === 'glucose')).toMatchObject({ filled: 1, fillRate: 0.5, units: { 'mg/dL': 2, kg: 1 } });
  });

  it('keys rows by HMAC-SHA-256 of the patient key with the site secret, and rejects short secrets', async () => {
    expect(pseudonym('Patient/p1', SECRET)).toBe(createHmac('sha256', SECRET).update('Patient/p1').digest('hex'));
    expect(pseudonym('Patient/p1', SECRET)).not.toBe(pseudonym('Patient/p1', `${SECRET}x`));
    const { mapping } = await loadSiteMapping(FIX, 'clinic');
    await expect(harmonize([], mapping!, { siteSecret: 'short' })).rejects.toThrow(/at least 16/);
  });

  it('reads NDJSON, Bundles and arrays of resources and names the line of bad JSON', async () => {
    const nd = join(temp, 'a.ndjson');
    writeFileSync(nd, `${JSON.stringify(obs('g1', 'p1', '2339-0', 90, 'mg/dL', '2020-01-01'))}\n\n`);
    const bundle = join(temp, 'b.json');
    writeFileSync(bundle, JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: obs('g2', 'p2', '2339-0', 6, 'mmol/L', '2020-01-01') }] }));
    const got: unknown[] = [];
    // The same file forms the ingest reads: a JSON array of resources, and a UTF-8 BOM before the JSON.
    const arr = join(temp, 'c.json');
    writeFileSync(arr, `\ufeff${JSON.stringify([obs('g3', 'p3', '2339-0', 100, 'mg/dL', '2020-01-01'), obs('g4', 'p4', '2339-0', 5, 'mmol/L', '2020-01-01')])}`);
    for await (const r of readResources([nd, bundle, arr])) got.push(r);
    expect(got.map((r) => (r as { id: string }).id)).toEqual(['g1', 'g2', 'g3', 'g4']);
    const bad = join(temp, 'bad.ndjson');
    writeFileSync(bad, '{"resourceType":"Patient"}\n{oops\n');
    await expect(async () => {
      for await (const _ of readResources([bad])) void _;
    }).rejects.toMatchObject({ code: 'FHIRFED_ERR_FHIR_INVALID', where: { file: bad, line: 2 } });
  });

  const SAMPLE = '../shared/samples/fhir/pathling-encoders-r4-9pt';
  it.skipIf(!existsSync(SAMPLE))('maps the Synthea sample: eGFR in mL/min quarantined, mL/min/{1.73_m2} kept (needs ../shared)', async () => {
    const { mapping } = await loadSiteMapping('mappings', 'synthea-pathling');
    const { rows, report } = await harmonize(readResources([SAMPLE]), mapping!, { siteSecret: SECRET });
    expect(rows).toHaveLength(9);
    expect(report.quarantine).toEqual({ 'unit-annotation-mismatch': 14 });
    for (const r of rows) if (r.values.egfr !== null) expect(r.provenance.egfr?.resourceKey).toMatch(/^Observation\//);
    const glucoses = rows.map((r) => r.values.glucose).filter((v): v is number => typeof v === 'number');
    expect(glucoses.length).toBe(5);
    for (const g of glucoses) expect(g).toBeGreaterThan(3); // mmol/L, not mg/dL
  });
});

describe('custom transformers', () => {
  const good = `export default { name: 'double', version: '1.0.0', description: 'x2', stage: 'value',
    params: { safeParse: (x) => ({ success: true, data: x ?? {} }) },
    create: () => (cell) => ({ ...cell, value: cell.value * 2 }) };\n`;

  it('loads .mjs files from the configured folder and uses them in a mapping', async () => {
    const root = join(temp, 'custom-ok');
    cpSync(FIX, root, { recursive: true });
    mkdirSync(join(root, 'transformers'));
    writeFileSync(join(root, 'transformers', 'double.mjs'), good);
    const site = join(root, 'sites', 'clinic', 'site.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(site, readFileSync(site, 'utf8').replace('views:', 'customTransformers: ../../transformers\nviews:').replace('      - hba1c\n', '      - hba1c\n      - double\n'));
    const { mapping, problems } = await loadSiteMapping(root, 'clinic');
    expect(problems).toEqual([]);
    const { rows } = await harmonize([obs('a1', 'p1', '4548-4', 7, '%', '2020-01-01')], mapping!, { siteSecret: SECRET });
    expect(Math.round(rows[0]!.values.hba1c as number)).toBe(106);
  });

  it('refuses a symlink that escapes the folder', async () => {
    const dir = join(temp, 'custom-escape');
    mkdirSync(dir);
    const outside = join(temp, 'evil.mjs');
    writeFileSync(outside, good.replace("'double'", "'evil'"));
    symlinkSync(outside, join(dir, 'evil.mjs'));
    const r = await loadCustomTransformers(dir, builtinRegistry());
    expect(r.loaded).toEqual([]);
    expect(r.problems[0]?.message).toMatch(/outside/);
  });

  it('refuses a customTransformers folder outside the mappings root', async () => {
    const root = join(temp, 'custom-root');
    cpSync(FIX, root, { recursive: true });
    const site = join(root, 'sites', 'clinic', 'site.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(site, readFileSync(site, 'utf8').replace('views:', 'customTransformers: ../../..\nviews:'));
    const { problems } = await loadSiteMapping(root, 'clinic');
    expect(problems.map((p) => p.path)).toContain('customTransformers');
    expect(problems[0]?.message).toMatch(/outside/);
  });
});
