import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed aggregator`: the federation's aggregator service. */
export function register(program: Command): void {
  pending(
    program
      .command('aggregator')
      .description('run the aggregator: rounds, participant selection, status polling, strategies')
      .option('-c, --config <file>', 'YAML config file'),
    'fhirfed aggregator',
  );
}
