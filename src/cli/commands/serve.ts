import type { Command } from 'commander';
import type { Logger } from '../../core/logger.js';
import type { GatewayRoles } from '../../api/server.js';
import { loadForCommand } from '../config-option.js';
import { action } from '../run.js';

/** Runs the gateway until SIGTERM/SIGINT, then drains: the active training job finishes, connections close. */
export async function runUntilSignal(configFile: string | undefined, roles: GatewayRoles): Promise<void> {
  const { config, logger } = loadForCommand(configFile);
  // Loaded on demand: the gateway pulls in every layer, which other commands (and --help) do not need.
  const { startGateway } = await import('../../api/server.js');
  const gateway = await startGateway(config, logger, roles);
  // One line on stdout so a supervisor (or the demo) learns the ports when it asked for port 0.
  process.stdout.write(`${JSON.stringify({ listening: gateway.port, ...(gateway.mllpPort ? { mllp: gateway.mllpPort } : {}) })}\n`);
  await waitForSignal(logger, () => gateway.close());
}

export function waitForSignal(logger: Logger, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      close().then(resolve, (e: unknown) => {
        logger.error({ err: e instanceof Error ? e.message : String(e) }, 'error while shutting down');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** `fhirfed serve`: the hospital gateway's api role (and, with --with-worker, the training worker too). */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the hospital gateway: health, metrics, /status, POST /fhir, MLLP, FHIR pull and the round follower')
    .option('-c, --config <file>', 'YAML config file (or FHIRFED_CONFIG); FHIRFED_* environment variables override it')
    .option('--with-worker', 'also consume training jobs in this process (single-process sites, the demo)')
    .action(
      action(async (opts: { config?: string; withWorker?: boolean }) => {
        await runUntilSignal(opts.config, { api: true, worker: opts.withWorker ?? false });
      }),
    );
}
