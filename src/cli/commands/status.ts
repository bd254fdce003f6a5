import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed status`: what a running gateway reports at /status. */
export function register(program: Command): void {
  pending(
    program
      .command('status')
      .description('show a gateway\'s status: health, data statistics, queue, privacy budget, round')
      .option('--url <url>', 'gateway base URL', 'http://127.0.0.1:8080')
      .option('--token <token>', 'operator bearer token (or FHIRFED_TOKEN)'),
    'fhirfed status',
  );
}
