/**
 * Real-data federated benchmark against FLamby's Fed-Heart-Disease (NeurIPS 2022 Datasets and Benchmarks).
 *
 * The UCI Heart Disease files of four hospitals become the gateway's real inputs — Cleveland and Hungary as FHIR R4,
 * Switzerland and VA as HL7 v2 ORU converted by the v2 converter — and are harmonized with mappings/heart. The
 * feature rows are then trained as FLamby does (bench/federated/protocol.ts): logistic regression, BCE, per-center
 * standardisation on the center's train rows, 15 rounds × 100 local SGD steps of batch 4 for the strategies, Adam
 * for 50 epochs for the local and pooled baselines, mean of 5 training seeds on a fixed split. Strategies are
 * fhirfed's own (src/federation/strategies); DP-SGD noise is planned with fhirfed's RDP accountant.
 *
 *   npm run bench -- federated
 *   npx tsx bench/federated.bench.ts [--data DIR] [--seeds 5] [--uci-zeros]
 *
 * Data: --data, else FHIRFED_HEART_DIR, else ../shared/datasets/heart-disease. Absent: one line, no results.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_HEART_DIR } from '../src/bench/heart/index.js';
import { FhirfedError, formatError } from '../src/core/errors.js';
import type { BenchResult } from './lib/types.js';
import { harmonizeHeartSites } from './federated/data.js';
import { prepare } from './federated/prepare.js';
import { SEEDS_FROM } from './federated/protocol.js';
import { benchResults, dpPlanLines, markdownTable } from './federated/report.js';
import { adaptiveShares } from './federated/runs.js';
import { runSuite } from './federated/suite.js';

export interface FederatedBenchOptions {
  readonly dir?: string;
  /** Number of training seeds (FLamby: 5). */
  readonly seeds?: number;
  /** Missing values as the UCI files' literal 0, as FLamby trains (an ablation; default: train-mean imputation). */
  readonly uciZeros?: boolean;
  /** Print the table and details to stdout (standalone); otherwise they go to stderr, next to bench/run.ts's table. */
  readonly print?: boolean;
}

/** `--name value` or `--name=value` (the second form passes through bench/run.ts, which takes bare words as suite names). */
function arg(argv: readonly string[], name: string): string | undefined {
  const inline = argv.find((a) => a.startsWith(`${name}=`));
  if (inline !== undefined) return inline.slice(name.length + 1);
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `${name} needs a value`, { hint: `e.g. ${name === '--seeds' ? '--seeds 5' : '--data ../shared/datasets/heart-disease'}` });
  }
  return v;
}

/** Options from the command line (--data, --seeds) and FHIRFED_HEART_DIR. */
export function optionsFromArgv(argv: readonly string[]): FederatedBenchOptions {
  const seedsText = arg(argv, '--seeds');
  const seeds = seedsText === undefined ? undefined : Number(seedsText);
  if (seeds !== undefined && !(Number.isInteger(seeds) && seeds >= 1 && seeds <= 100)) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `--seeds must be a whole number from 1 to 100 (got ${seedsText})`, { hint: 'FLamby averages 5 seeds: --seeds 5' });
  }
  const dir = arg(argv, '--data') ?? process.env.FHIRFED_HEART_DIR;
  return { ...(dir ? { dir } : {}), ...(seeds ? { seeds } : {}), ...(argv.includes('--uci-zeros') ? { uciZeros: true } : {}) };
}

export async function runFederatedBench(o: FederatedBenchOptions = {}): Promise<BenchResult[]> {
  const dir = resolve(o.dir ?? DEFAULT_HEART_DIR);
  if (!existsSync(dir)) {
    console.log(`federated bench skipped: no heart-disease data at ${dir} (pass --data DIR or set FHIRFED_HEART_DIR)`);
    return [];
  }
  const seeds = Array.from({ length: o.seeds ?? 5 }, (_, i) => SEEDS_FROM + i);
  const log = o.print ? (s: string) => console.log(s) : (s: string) => console.error(s);
  const t0 = performance.now();
  const sites = await harmonizeHeartSites({ dir });
  const t1 = performance.now();
  log(`federated: rendered and harmonized 4 sites in ${((t1 - t0) / 1000).toFixed(1)} s: ${sites.map((s) => `${s.site} (${s.format}) ${s.train.length}/${s.test.length}`).join(', ')}`);
  const prep = prepare(sites, { uciZeros: o.uciZeros ?? false });
  if (o.uciZeros) log('federated: missing values as the UCI files\' literal 0 (FLamby\'s input), not the train mean');
  const suite = runSuite(prep, { seeds });
  log(`federated: trained all runs × ${seeds.length} seeds in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  const shares = adaptiveShares(prep);
  log('');
  log(markdownTable(suite, seeds));
  log('');
  log(dpPlanLines(suite));
  log(`adaptive weighting shares: ${Object.entries(shares).map(([s, w]) => `${s} ${w.toFixed(3)}`).join(', ')} (FedAvg: ${prep.sites.map((s) => `${s.site} ${(s.train.n / prep.pooledTrain.n).toFixed(3)}`).join(', ')})`);
  return benchResults(suite);
}

/** bench/run.ts entry: options from the command line and environment. */
export async function run(): Promise<BenchResult[]> {
  return runFederatedBench(optionsFromArgv(process.argv.slice(2)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    await runFederatedBench({ ...optionsFromArgv(process.argv.slice(2)), print: true });
  } catch (e) {
    console.error(formatError(e));
    process.exitCode = 1;
  }
}
