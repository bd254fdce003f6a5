import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import type { TrainingHyperInput } from '../../training/index.js';
import { loadForCommand } from '../config-option.js';
import { action } from '../run.js';

interface TrainOptions {
  config?: string;
  site: string;
  rounds: string;
  from?: string[];
  model?: 'logreg' | 'mlp';
  epochs?: string;
  writeInitial?: string;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `${flag} must be a positive integer, got ${JSON.stringify(v)}`, { where: { path: flag } });
  }
  return n;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '  -  ' : v.toFixed(3));

/** `fhirfed train --site S --rounds 1`: one local job end to end from the feature store, for debugging a site. */
export function register(program: Command): void {
  program
    .command('train')
    .description('run local training round(s) end to end from the feature store, without Redis or an aggregator')
    .option('-c, --config <file>', 'YAML config file (or FHIRFED_CONFIG); FHIRFED_* environment variables override it')
    .requiredOption('--site <site>', 'site id (folder under mappings/sites; rows of this site in the feature store)')
    .option('--rounds <n>', 'local rounds, each starting from the previous weights', '1')
    .option('--from <files...>', 'harmonize these FHIR files (NDJSON, Bundle, resource, folders) into the store first')
    .option('--model <model>', 'override training.model: logreg or mlp')
    .option('--epochs <n>', 'override training.epochs')
    .option('--write-initial <file>', "write the seeded initial global model for this schema and config (raw Float32, the aggregator's task.model.initialFile) and exit")
    .action(
      action(async (opts: TrainOptions) => {
        const { config, logger } = loadForCommand(opts.config);
        const rounds = positiveInt(opts.rounds, '--rounds');
        // Loaded on demand: TensorFlow.js and the feature store are only needed once the options are valid.
        const { featureStoreRowSource, harmonizeIntoStore, openSite, siteSecret, trainingHyper } = await import('../../api/wiring/site.js');
        const { readResources } = await import('../../harmonize/read-resources.js');
        const { initBackend, initialModelWeights, runLocalRounds } = await import('../../training/index.js');
        const ctx = await openSite(config, opts.site);
        try {
          if (opts.writeInitial) {
            const weights = await initialModelWeights(ctx.specs, { ...trainingHyper(config), ...(opts.model ? { model: opts.model } : {}) }, logger);
            writeFileSync(opts.writeInitial, Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength));
            process.stdout.write(`wrote ${weights.length} parameters to ${opts.writeInitial}\n`);
            return;
          }
          if (opts.from?.length) {
            const { rows, report } = await harmonizeIntoStore(ctx, readResources(opts.from), siteSecret(config));
            process.stdout.write(`harmonized ${rows} patient rows from ${report.resources} resources into the feature store\n`);
          }
          const n = ctx.store.count(opts.site);
          if (n === 0) {
            throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the feature store has no rows for site ${opts.site}`, {
              hint: 'ingest data first (`fhirfed ingest`), or pass FHIR files with --from',
            });
          }
          const backend = await initBackend(logger);
          const hyper: TrainingHyperInput = {
            ...trainingHyper(config),
            ...(opts.model ? { model: opts.model } : {}),
            ...(opts.epochs ? { epochs: positiveInt(opts.epochs, '--epochs') } : {}),
          };
          process.stdout.write(`site ${opts.site}: ${n} rows, backend ${backend.name}, model ${hyper.model ?? 'mlp'}\n`);
          const results = await runLocalRounds({ site: opts.site, rowSource: featureStoreRowSource(ctx.store, ctx.schema), specs: ctx.specs, rounds, hyper, logger });
          const heads = ctx.schema.labels;
          process.stdout.write(`round  epochs  train  holdout  ${heads.map((h) => `${h} F1 / AUROC / acc`).join('  ')}\n`);
          results.forEach((r, i) => {
            const cells = heads.map((h) => {
              const m = r.metrics[h];
              return `${fmt(m?.f1)} / ${fmt(m?.auroc)} / ${fmt(m?.accuracy)}`;
            });
            process.stdout.write(`${String(i + 1).padStart(5)}  ${String(r.epochs).padStart(6)}  ${String(r.numSamples).padStart(5)}  ${String(r.holdoutSamples).padStart(7)}  ${cells.join('  ')}\n`);
          });
        } finally {
          ctx.close();
        }
      }),
    );
}
