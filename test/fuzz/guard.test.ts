import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuarded } from './harness/guarded.js';

const BROKEN = join(import.meta.dirname, 'harness/broken-target.ts');

describe('fuzz guard', () => {
  it('fails a synchronous hang at the per-case deadline and names the input', async () => {
    process.env.FHIRFED_FUZZ_BROKEN = 'hang';
    await expect(runGuarded(BROKEN, { numRuns: 200, caseTimeoutMs: 1000 })).rejects.toThrow(/did not finish within 1000 ms[\s\S]*input:\n\d+/);
  }, 60_000);

  it('fails unbounded memory growth (worker heap limit) and names the input', async () => {
    process.env.FHIRFED_FUZZ_BROKEN = 'memory';
    await expect(runGuarded(BROKEN, { numRuns: 200, caseTimeoutMs: 60_000 })).rejects.toThrow(/out of memory[\s\S]*input:\n\d+/);
  }, 120_000);
});
