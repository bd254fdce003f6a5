import type { Command } from 'commander';
import { startGateway } from '../../api/server.js';
import { loadForCommand } from '../config-option.js';
import { action } from '../run.js';

/** `fhirfed serve`: the hospital gateway (HTTP API; MLLP, ingest and training attach as they land). */
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the hospital gateway: health, readiness, metrics and the site API')
    .option('-c, --config <file>', 'YAML config file (or FHIRFED_CONFIG); FHIRFED_* environment variables override it')
    .action(
      action(async (opts: { config?: string }) => {
        const { config, logger } = loadForCommand(opts.config);
        const gateway = await startGateway(config, logger);
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            logger.info({ signal }, 'shutting down');
            gateway.close().then(resolve, resolve);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
      }),
    );
}
