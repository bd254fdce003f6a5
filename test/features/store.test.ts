import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/store.js';
import { computeStats } from '../../src/features/stats.js';
import type { FeatureRow } from '../../src/harmonize/harmonize.js';
import { loadSchema } from '../../src/harmonize/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'fhirfed-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (key: string, glucose: number | null, sex: string | null, site = 'hospital-a'): FeatureRow => ({
  key,
  site,
  values: { glucose, sex },
  quarantined: glucose === null ? [{ feature: 'glucose', reason: 'outside range', code: 'implausible-value' }] : [],
  provenance: glucose === null ? {} : { glucose: { resourceKey: `Observation/${key}`, column: 'labs.value', chain: ['ucum@1.0.0'] } },
});

describe('FeatureStore', () => {
  it('upserts by (site, key), survives reopening, and uses WAL', () => {
    const file = join(dir, 'features.db');
    const s = FeatureStore.open(file);
    expect(s.upsert([row('a', 5, 'male'), row('b', null, 'female'), row('a', 6, 'male', 'hospital-b')])).toBe(3);
    expect(s.upsert([row('a', 7, 'male')])).toBe(1);
    s.close();
    const raw = new Database(file);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const again = FeatureStore.open(file);
    expect(again.count()).toBe(3);
    expect(again.count('hospital-a')).toBe(2);
    const a = again.all('hospital-a').find((r) => r.key === 'a');
    expect(a?.values.glucose).toBe(7);
    expect(again.all('hospital-b')[0]?.values.glucose).toBe(6);
    expect(again.all('hospital-a').find((r) => r.key === 'b')?.quarantined[0]?.code).toBe('implausible-value');
    expect(again.deleteSite('hospital-b')).toBe(1);
    again.close();
  });

  it('gives a clear error when the file cannot be opened', () => {
    expect(() => FeatureStore.open(join(dir, 'no-such-dir', 'x.db'))).toThrow(/cannot open the feature store/);
  });
});

describe('computeStats', () => {
  it('reports fill rates, mean/sd/median, category counts and quarantine counts', () => {
    const { schema } = loadSchema('mappings/schema.yaml');
    const rows = [row('a', 4, 'male'), row('b', 6, 'female'), row('c', null, 'female'), row('d', 8, null)];
    const s = computeStats(rows, schema!);
    expect(s.count).toBe(4);
    expect(s.features.glucose).toMatchObject({ kind: 'numeric', filled: 3, fillRate: 0.75, mean: 6, sd: 2, median: 6 });
    expect(s.features.sex).toMatchObject({ kind: 'categorical', filled: 3, counts: { male: 1, female: 2 } });
    expect(s.features.bmi).toMatchObject({ filled: 0, mean: null, sd: null });
    expect(s.quarantine).toEqual({ 'implausible-value': 1 });
    expect(JSON.stringify(s)).not.toMatch(/"a"|Observation/); // no keys, no provenance
  });
});
