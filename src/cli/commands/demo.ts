import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed demo`: a whole federation on one machine. */
export function register(program: Command): void {
  pending(
    program.command('demo').description('run a whole federation (aggregator + 3-4 hospital gateways) on this machine with generated data'),
    'fhirfed demo',
  );
}
