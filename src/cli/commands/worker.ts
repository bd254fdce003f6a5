import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed worker`: the training-job worker (separate Deployment in Kubernetes). */
export function register(program: Command): void {
  pending(
    program
      .command('worker')
      .description('run the training worker: consumes the BullMQ training queue; serves /healthz, /readyz, /metrics')
      .option('-c, --config <file>', 'YAML config file (or FHIRFED_CONFIG); FHIRFED_* environment variables override it'),
    'fhirfed worker',
  );
}
