import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { loadAggregatorConfig } from '../../federation/aggregator/config.js';
import { generateKeyPair, publicKeyBase64 } from '../../federation/signing.js';
import { action } from '../run.js';

/** `fhirfed aggregator`: the federation's aggregator service (or `--keygen` to make an ed25519 key file). */
export function register(program: Command): void {
  program
    .command('aggregator')
    .description('run the aggregator: rounds, participant selection, status polling, strategies')
    .option('-c, --config <file>', 'aggregator YAML config file')
    .option('--keygen <file>', 'write a new ed25519 secret key to <file> (mode 0600) and print its public key')
    .action(
      action(async (opts: { config?: string; keygen?: string }) => {
        if (opts.keygen) {
          try {
            const kp = generateKeyPair(opts.keygen);
            process.stdout.write(`${publicKeyBase64(kp)}\n`);
          } catch (e) {
            throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `cannot write the key file ${opts.keygen} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
              hint: 'the file must not exist yet: keys are never overwritten',
            });
          }
          return;
        }
        if (!opts.config) {
          throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'the aggregator needs --config <file>', { hint: 'see src/federation/aggregator/config.ts for the keys' });
        }
        const config = loadAggregatorConfig(opts.config);
        const logger = createLogger({ level: config.log.level, name: 'fhirfed-aggregator' });
        const { startAggregator } = await import('../../api/routes/aggregator-server.js');
        const agg = await startAggregator(config, logger);
        // One line on stdout so a supervisor (or a test) learns the port when it asked for port 0.
        process.stdout.write(`${JSON.stringify({ listening: agg.port })}\n`);
        await new Promise<void>((resolve) => {
          const stop = (signal: string): void => {
            logger.info({ signal }, 'shutting down');
            agg.close().then(resolve, resolve);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
      }),
    );
}
