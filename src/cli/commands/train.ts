import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed train --site S --rounds 1`: one local training job end to end (debugging a site). */
export function register(program: Command): void {
  pending(
    program
      .command('train')
      .description('run local training job(s) from the feature store, end to end, without an aggregator')
      .option('-c, --config <file>', 'YAML config file')
      .requiredOption('--site <site>', 'site id')
      .option('--rounds <n>', 'number of local rounds', '1'),
    'fhirfed train',
  );
}
