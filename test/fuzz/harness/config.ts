/**
 * Fuzz settings, all from the environment so CI and a developer's deep run use the same tests:
 *
 *   FHIRFED_FUZZ_RUNS              cases per target (default 10000; HTTP: requests per app)
 *   FHIRFED_FUZZ_MAPPING_RUNS      cases of the mapping loader (default FHIRFED_FUZZ_RUNS: one case loads a whole
 *                                  site, ~30 ms here, so 10000 take about 5 minutes — the slowest test in CI)
 *   FHIRFED_FUZZ_SEED              fast-check seed to replay a reported failure (default: random, printed on failure)
 *   FHIRFED_FUZZ_CASE_TIMEOUT_MS   one case taking longer than this is a hang and fails the test (default 10000)
 *   FHIRFED_FUZZ_MEMORY_MB         old-generation limit of the worker that runs a pure target (default 512)
 */
function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export const FUZZ_RUNS = positiveInt('FHIRFED_FUZZ_RUNS', 10_000);
export const MAPPING_RUNS = positiveInt('FHIRFED_FUZZ_MAPPING_RUNS', FUZZ_RUNS);
export const FUZZ_SEED: number | undefined = process.env.FHIRFED_FUZZ_SEED ? Number(process.env.FHIRFED_FUZZ_SEED) : undefined;
export const CASE_TIMEOUT_MS = positiveInt('FHIRFED_FUZZ_CASE_TIMEOUT_MS', 10_000);
export const WORKER_MEMORY_MB = positiveInt('FHIRFED_FUZZ_MEMORY_MB', 512);

/** Vitest timeout of one fuzz test: generous, because the per-case watchdog is what catches hangs. */
export const FUZZ_TEST_TIMEOUT_MS = 1_500_000;
