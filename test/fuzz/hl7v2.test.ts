import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZ_RUNS, FUZZ_TEST_TIMEOUT_MS } from './harness/config.js';
import { loadFixtures, runGuarded } from './harness/guarded.js';

const TARGET = join(import.meta.dirname, 'targets/hl7v2.ts');

describe('fuzz: HL7v2 parser, field access, v2 -> FHIR and ACKs', () => {
  it(`${FUZZ_RUNS} mutated and random messages give a result or a typed error, and a parseable ACK`, async () => {
    const r = await runGuarded(TARGET);
    console.log(`hl7v2: ${r.numRuns} cases (seed ${r.seed})`, r.stats);
    expect(r.numRuns).toBe(FUZZ_RUNS);
    // The generator must reach both sides of the parser, or the fuzzing proves little.
    expect(r.stats.parsed ?? 0).toBeGreaterThan(0);
    expect(r.stats.converted ?? 0).toBeGreaterThan(0);
    expect(Object.keys(r.stats).some((k) => k.startsWith('refused'))).toBe(true);
  }, FUZZ_TEST_TIMEOUT_MS);

  it('replays the stored crashers (test/fixtures/fuzz/hl7v2)', async () => {
    const fixtures = loadFixtures('hl7v2');
    const r = await runGuarded(TARGET, { inputs: fixtures.map((f) => f.input) });
    expect(r.numRuns).toBe(fixtures.length);
  }, FUZZ_TEST_TIMEOUT_MS);
});
