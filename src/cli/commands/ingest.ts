import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { ingestPaths, type IngestSummary } from '../../ingest/index.js';
import { Ledger, type SourceKind } from '../../ingest/ledger/index.js';
import { bulkExport, pullRest, tokenFromConfig } from '../../ingest/fhir/index.js';
import { replayDeadLetters } from '../../ingest/pipeline.js';
import { loadForCommand } from '../config-option.js';
import { action } from '../run.js';

/**
 * `fhirfed ingest FILE|DIR...`: HL7v2 and FHIR files into the ledger at storage.dataDir; prints accepted, duplicate
 * and dead-letter counts with each dead letter's reason. `fhirfed ingest replay` re-runs open dead letters through
 * the current converter (after a mapping fix). `fhirfed ingest pull` fetches from fhir.baseUrl (REST search with
 * incremental `_lastUpdated`, or `--bulk` for Bulk Data $export).
 */

interface IngestFlags {
  readonly config?: string;
  readonly json?: boolean;
  readonly strict?: boolean;
}

const SHOWN_DEAD = 20;

function printSummary(s: IngestSummary, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const lines = [`ingested ${s.files} file(s): ${s.accepted} accepted, ${s.duplicates} duplicate(s), ${s.dead} dead letter(s)`];
  const types = Object.entries(s.resourceTypes).sort(([a], [b]) => a.localeCompare(b));
  if (types.length > 0) lines.push(`  resources: ${types.map(([t, n]) => `${t} ${n}`).join(', ')}`);
  for (const d of s.deadLetters.slice(0, SHOWN_DEAD)) lines.push(`  dead [${d.code}] ${d.where ? `${d.where}: ` : ''}${d.message}`);
  if (s.deadLetters.length > SHOWN_DEAD) lines.push(`  ... and ${s.deadLetters.length - SHOWN_DEAD} more (see \`fhirfed ingest replay\`)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function openLedger(configFile: string | undefined): Ledger {
  const { config } = loadForCommand(configFile);
  return Ledger.open({ dataDir: config.storage.dataDir });
}

export function register(program: Command): void {
  const ingest = program
    .command('ingest')
    .description('ingest HL7v2 or FHIR (NDJSON, Bundle, Bulk export folder) files into the local ledger')
    .option('-c, --config <file>', 'YAML config file (storage.dataDir holds the ledger)')
    .option('--json', 'print the summary as JSON')
    .option('--strict', 'exit non-zero when any input became a dead letter')
    .argument('<files...>', 'input files or folders (.hl7, .ndjson, .json; folders are read recursively)')
    .action(
      action(async (files: string[], flags: IngestFlags) => {
        const ledger = openLedger(flags.config);
        try {
          const summary = await ingestPaths(ledger, files);
          printSummary(summary, flags.json);
          if (flags.strict && summary.dead > 0) {
            throw new FhirfedError('FHIRFED_ERR_VALIDATION', `${summary.dead} input(s) could not be converted and were kept as dead letters`, {
              hint: 'fix the input or the mapping, then run `fhirfed ingest replay`',
            });
          }
        } finally {
          ledger.close();
        }
      }),
    );

  ingest
    .command('replay')
    .description('re-run open dead letters through the current parser and converter (after a mapping fix)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--code <code>', 'only dead letters with this error code, e.g. FHIRFED_ERR_HL7_UNSUPPORTED')
    .option('--kind <kind>', 'only hl7v2 or fhir')
    .option('--source <source>', 'only this source (v2: MSH-3^MSH-4)')
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (flags: { config?: string; code?: string; kind?: string; source?: string; json?: boolean }) => {
        if (flags.kind !== undefined && flags.kind !== 'hl7v2' && flags.kind !== 'fhir') {
          throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `unknown --kind '${flags.kind}'`, { hint: 'use hl7v2 or fhir' });
        }
        const ledger = openLedger(flags.config ?? (ingest.opts() as IngestFlags).config);
        try {
          const s = replayDeadLetters(ledger, {
            ...(flags.code ? { code: flags.code } : {}),
            ...(flags.kind ? { kind: flags.kind as SourceKind } : {}),
            ...(flags.source ? { source: flags.source } : {}),
          });
          if (flags.json) process.stdout.write(`${JSON.stringify(s)}\n`);
          else {
            const lines = [`replayed ${s.attempted} dead letter(s): ${s.converted} converted, ${s.stillDead.length} still dead`];
            for (const d of s.stillDead.slice(0, SHOWN_DEAD)) lines.push(`  message ${d.messageId} [${d.reason.code}] ${d.reason.where ? `${d.reason.where}: ` : ''}${d.reason.message}`);
            process.stdout.write(`${lines.join('\n')}\n`);
          }
        } finally {
          ledger.close();
        }
      }),
    );

  ingest
    .command('pull')
    .description('pull resources from the FHIR server at fhir.baseUrl (REST search, incremental; or --bulk $export)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--bulk', 'use Bulk Data $export instead of REST search')
    .option('--types <types>', 'comma-separated resource types (default: fhir.resourceTypes)')
    .option('--group <id>', 'with --bulk: export Group/<id> instead of the whole system')
    .action(
      action(async (flags: { config?: string; bulk?: boolean; types?: string; group?: string }) => {
        const { config, logger } = loadForCommand(flags.config ?? (ingest.opts() as IngestFlags).config);
        const baseUrl = config.fhir.baseUrl;
        if (!baseUrl) {
          throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'no FHIR server to pull from', {
            where: { path: 'fhir.baseUrl' },
            hint: 'set fhir.baseUrl in the config file or FHIRFED_FHIR_BASE_URL',
          });
        }
        const resourceTypes = flags.types ? flags.types.split(',').map((t) => t.trim()).filter(Boolean) : config.fhir.resourceTypes;
        const token = tokenFromConfig(config);
        const ledger = Ledger.open({ dataDir: config.storage.dataDir });
        try {
          const common = { baseUrl, allowedHosts: config.fhir.allowedHosts, ledger, logger, resourceTypes, ...(token ? { token } : {}) };
          const s = flags.bulk
            ? await bulkExport({ ...common, ...(flags.group ? { level: { group: flags.group } } : {}) })
            : await pullRest({ ...common, pageSize: config.fhir.pageSize });
          process.stdout.write(`${JSON.stringify(s)}\n`);
        } finally {
          ledger.close();
        }
      }),
    );
}
