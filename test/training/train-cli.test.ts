import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(process.cwd(), 'bin', 'fhirfed.js');
const SAMPLE = join(process.cwd(), '..', 'shared', 'samples', 'fhir', 'pathling-encoders-r4-9pt');

function train(args: string[], dataDir: string) {
  return spawnSync(process.execPath, [BIN, 'train', ...args], {
    encoding: 'utf8',
    env: { ...process.env, FHIRFED_STORAGE_DATA_DIR: dataDir, FHIRFED_SITE_SECRET: 'test-secret-0123456789', FHIRFED_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
}

describe('fhirfed train', () => {
  it('refuses an empty feature store with a hint, no stack trace', () => {
    const r = train(['--site', 'hospital-a'], mkdtempSync(join(tmpdir(), 'fhirfed-train-')));
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/no rows for site hospital-a/);
    expect(r.stderr).toMatch(/fhirfed ingest/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('refuses a bad --rounds value', () => {
    const r = train(['--site', 'hospital-a', '--rounds', 'two'], mkdtempSync(join(tmpdir(), 'fhirfed-train-')));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--rounds must be a positive integer/);
  });

  it.skipIf(!existsSync(SAMPLE))('harmonizes FHIR files into the store and trains one round end to end (needs ../shared samples)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-train-'));
    const r = train(['--site', 'synthea-pathling', '--from', SAMPLE, '--rounds', '2', '--epochs', '3'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/harmonized 9 patient rows/);
    expect(r.stdout).toMatch(/backend (wasm|tensorflow|cpu)/);
    expect(r.stdout).toMatch(/drug_response F1 \/ AUROC \/ acc\s+adverse_event F1 \/ AUROC \/ acc/);
    const roundLines = r.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\s+\d+\s+\d+\s/.test(l));
    expect(roundLines).toHaveLength(2);
    // The second run reads the rows the first one stored.
    const again = train(['--site', 'synthea-pathling', '--rounds', '1', '--epochs', '2'], dir);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/synthea-pathling: 9 rows/);
  });
});
