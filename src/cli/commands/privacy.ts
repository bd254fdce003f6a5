import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed privacy epsilon ...`: the RDP accountant from the command line. */
export function register(program: Command): void {
  const p = program.command('privacy').description('differential privacy tools');
  pending(
    p
      .command('epsilon')
      .description('epsilon spent by the subsampled Gaussian mechanism (RDP accountant); epsilon alone on the last line')
      .requiredOption('--noise-multiplier <sigma>', 'noise standard deviation / clip norm')
      .requiredOption('--sample-rate <q>', 'sampling probability per step')
      .requiredOption('--steps <t>', 'number of steps (rounds)')
      .requiredOption('--delta <d>', 'target delta'),
    'fhirfed privacy epsilon',
  );
}
