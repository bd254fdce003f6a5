import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { action } from '../run.js';

function num(v: string, flag: string, { int = true, min = 1 }: { int?: boolean; min?: number } = {}): number {
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `${flag} must be ${int ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(v)}`, { where: { path: flag } });
  }
  return n;
}

/** `fhirfed demo`: a whole federation on one machine (what `npm run demo` runs). */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run a whole federation on this machine: 4 hospitals with generated data, an aggregator, DP and secure aggregation; writes an HTML report')
    .option('--rounds <n>', 'federated rounds', '8')
    .option('--patients <n>', 'patients per hospital (sites vary around it)', '400')
    .option('--seed <n>', 'data generation seed', '1')
    .option('--epsilon <e>', 'privacy budget per site', '8')
    .option('--delta <d>', 'privacy delta', '1e-5')
    .option('--out <dir>', 'folder for the report (a timestamped folder is made inside)', 'reports')
    .option('--secagg <scheme>', 'secure aggregation: masking (pairwise masks) or paillier (homomorphic encryption)', 'masking')
    .action(
      action(async (opts: { rounds: string; patients: string; seed: string; epsilon: string; delta: string; out: string; secagg: string }) => {
        if (opts.secagg !== 'masking' && opts.secagg !== 'paillier') {
          throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `--secagg must be masking or paillier, got ${JSON.stringify(opts.secagg)}`, { where: { path: '--secagg' } });
        }
        const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
        const { runDemo } = await import('../../demo/run.js');
        const { reportDir } = await runDemo({
          rounds: num(opts.rounds, '--rounds'),
          patientsPerSite: num(opts.patients, '--patients', { min: 40 }),
          seed: num(opts.seed, '--seed', { min: 0 }),
          epsilon: num(opts.epsilon, '--epsilon', { int: false, min: 0.01 }),
          delta: num(opts.delta, '--delta', { int: false, min: 1e-12 }),
          outDir: opts.out,
          codec: opts.secagg,
          redisUrl,
          out: process.stdout,
        });
        process.stdout.write(`open ${reportDir}/index.html in a browser; the data behind it is ${reportDir}/report.json\n`);
      }),
    );
}
