import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZ_RUNS, FUZZ_TEST_TIMEOUT_MS } from './harness/config.js';
import { loadFixtures, runGuarded } from './harness/guarded.js';

const TARGET = join(import.meta.dirname, 'targets/mllp.ts');

describe('fuzz: MLLP framing', () => {
  it(`${FUZZ_RUNS} random chunkings of frames plus garbage yield exactly the frames; random bytes are chunking-invariant`, async () => {
    const r = await runGuarded(TARGET);
    console.log(`mllp: ${r.numRuns} cases (seed ${r.seed})`, r.stats);
    expect(r.numRuns).toBe(FUZZ_RUNS);
    expect(r.stats.frames ?? 0).toBeGreaterThan(0);
    expect(r.stats['frames with oversized'] ?? 0).toBeGreaterThan(0);
    expect(r.stats['bytes with frames'] ?? 0).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it('replays the stored crashers (test/fixtures/fuzz/mllp)', async () => {
    const fixtures = loadFixtures('mllp');
    const r = await runGuarded(TARGET, { inputs: fixtures.map((f) => f.input) });
    expect(r.numRuns).toBe(fixtures.length);
  }, FUZZ_TEST_TIMEOUT_MS);
});
