import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Spawns the real CLI (bin/fhirfed.js) on the shipped mappings and on broken fixtures, one per error kind. */

function fhirfed(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/fhirfed.js', ...args], { encoding: 'utf8', env: { ...process.env, FHIRFED_LOG_LEVEL: 'silent' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FIX = 'test/fixtures/mappings';
const SAMPLE = '../shared/samples/fhir/pathling-encoders-r4-9pt';
const hasSample = existsSync(SAMPLE);

describe('fhirfed mappings validate', () => {
  it('accepts the shipped mappings with a summary and exit 0', () => {
    const r = fhirfed('mappings', 'validate', 'mappings');
    expect(r.stderr).not.toMatch(/error|problem/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/site synthea-pathling: 4 views/);
    expect(r.stdout).toMatch(/site hospital-a:/);
    expect(r.stdout).toMatch(/site hospital-b:/);
    expect(r.stdout).toMatch(/are valid/);
  });

  it('accepts the valid fixture (so every broken fixture differs from a good one by its one defect)', () => {
    expect(fhirfed('mappings', 'validate', `${FIX}/valid`).code).toBe(0);
  });

  const cases: [string, RegExp][] = [
    ['yaml-syntax', /sites\/clinic\/site\.yaml:16: YAML syntax error/],
    ['unknown-transformer', /sites\/clinic\/site\.yaml:12 features\.glucose\.transformers\[2\]: unknown transformer `plausability`/],
    ['bad-params', /sites\/clinic\/site\.yaml:26 features\.high_glucose\.transformers\[1\]\.params\.fn: aggregate: Invalid option/],
    ['unknown-feature', /sites\/clinic\/site\.yaml:13 features\.hba1c_ifcc: unknown schema feature `hba1c_ifcc`/],
    ['bad-fhirpath', /sites\/clinic\/view-labs\.json:11 select\[0\]\.column\[2\]\.path: invalid FHIRPath/],
    ['missing-view', /sites\/clinic\/site\.yaml:3 views\.labs: view file for `labs` `view-lab\.json` not found/],
    ['unit-not-convertible', /sites\/clinic\/site\.yaml:19 features\.hba1c\.transformers\[1\]\.params: ucum: unit not convertible to the schema unit: `kg`/],
  ];
  for (const [kind, expected] of cases) {
    it(`reports ${kind} as file:line field: reason and exits 65`, () => {
      const r = fhirfed('mappings', 'validate', `${FIX}/${kind}`);
      expect(r.code).toBe(65);
      expect(r.stderr).toMatch(expected);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe('');
    });
  }
});

describe('fhirfed mappings dry-run', () => {
  it.skipIf(!hasSample)('prints a text coverage report for the Synthea sample (needs ../shared)', () => {
    const r = fhirfed('mappings', 'dry-run', '--site', 'synthea-pathling', SAMPLE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/site synthea-pathling: 1583 resources -> 9 patient rows/);
    expect(r.stdout).toMatch(/egfr\s+44\.4%/);
    expect(r.stdout).toMatch(/unit-annotation-mismatch\s+14/);
    expect(r.stdout).toMatch(/unmapped codes \(\d+, by count\)/);
  });

  it.skipIf(!hasSample)('prints the same report as JSON with --json (needs ../shared)', () => {
    const r = fhirfed('mappings', 'dry-run', '--site', 'synthea-pathling', '--json', `${SAMPLE}/Observation.ndjson`, `${SAMPLE}/Patient.ndjson`);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { rows: number; features: { name: string; units: Record<string, number>; quarantined: number }[]; quarantine: Record<string, number>; unmappedCodes: { code: string; count: number }[] };
    expect(report.rows).toBe(9);
    const egfr = report.features.find((f) => f.name === 'egfr');
    expect(egfr?.units).toEqual({ 'mL/min/{1.73_m2}': 24, 'mL/min': 14 });
    expect(report.quarantine['unit-annotation-mismatch']).toBe(14);
    expect(report.unmappedCodes.find((u) => u.code === 'http://loinc.org|8302-2')?.count).toBe(83);
  });

  it('fails clearly on broken mappings and on a missing input file', () => {
    const broken = fhirfed('mappings', 'dry-run', '--site', 'clinic', '--mappings', `${FIX}/unknown-transformer`, 'nothing.ndjson');
    expect(broken.code).toBe(65);
    expect(broken.stderr).toMatch(/unknown transformer `plausability`/);
    const missing = fhirfed('mappings', 'dry-run', '--site', 'clinic', '--mappings', `${FIX}/valid`, 'no-such-file.ndjson');
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(/no-such-file\.ndjson not found/);
  });
});
