import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZ_TEST_TIMEOUT_MS, MAPPING_RUNS } from './harness/config.js';
import { loadFixtures, runGuarded } from './harness/guarded.js';

const TARGET = join(import.meta.dirname, 'targets/mapping.ts');

describe('fuzz: mapping loading (mutated shipped site.yaml files)', () => {
  it(`${MAPPING_RUNS} mutated site.yaml files load or give located problems, never an untyped exception`, async () => {
    const r = await runGuarded(TARGET, { numRuns: MAPPING_RUNS });
    console.log(`mapping: ${r.numRuns} cases (seed ${r.seed})`, r.stats);
    expect(r.numRuns).toBe(MAPPING_RUNS);
    expect(r.stats.loaded ?? 0).toBeGreaterThan(0);
    expect(r.stats.problems ?? 0).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it('replays the stored crashers (test/fixtures/fuzz/mapping)', async () => {
    const fixtures = loadFixtures('mapping');
    const r = await runGuarded(TARGET, { inputs: fixtures.map((f) => f.input) });
    expect(r.numRuns).toBe(fixtures.length);
  }, FUZZ_TEST_TIMEOUT_MS);
});
