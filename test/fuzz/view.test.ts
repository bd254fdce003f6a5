import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZ_RUNS, FUZZ_TEST_TIMEOUT_MS } from './harness/config.js';
import { loadFixtures, runGuarded } from './harness/guarded.js';

const TARGET = join(import.meta.dirname, 'targets/view.ts');

describe('fuzz: ViewDefinition engine', () => {
  it(`${FUZZ_RUNS} generated views and resources compile and evaluate, or are refused with a typed error`, async () => {
    const r = await runGuarded(TARGET);
    console.log(`view: ${r.numRuns} cases (seed ${r.seed})`, r.stats);
    expect(r.numRuns).toBe(FUZZ_RUNS);
    expect(r.stats.compiled ?? 0).toBeGreaterThan(0);
    expect(r.stats.rows ?? 0).toBeGreaterThan(0);
    expect(r.stats['refused FHIRFED_ERR_VIEW_INVALID'] ?? 0).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it('replays the stored crashers (test/fixtures/fuzz/view)', async () => {
    const fixtures = loadFixtures('view');
    const r = await runGuarded(TARGET, { inputs: fixtures.map((f) => f.input) });
    expect(r.numRuns).toBe(fixtures.length);
  }, FUZZ_TEST_TIMEOUT_MS);
});
