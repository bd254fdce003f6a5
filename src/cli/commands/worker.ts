import type { Command } from 'commander';
import { action } from '../run.js';
import { runUntilSignal } from './serve.js';

/** `fhirfed worker`: the training-job worker (a separate Deployment in Kubernetes). */
export function register(program: Command): void {
  program
    .command('worker')
    .description('run the training worker: consumes the BullMQ training queue; serves /healthz, /readyz, /metrics, /status')
    .option('-c, --config <file>', 'YAML config file (or FHIRFED_CONFIG); FHIRFED_* environment variables override it')
    .action(
      action(async (opts: { config?: string }) => {
        await runUntilSignal(opts.config, { api: false, worker: true });
      }),
    );
}
