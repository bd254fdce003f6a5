import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed ingest FILE...`: load HL7v2 or FHIR files through the ledger into the feature store. */
export function register(program: Command): void {
  pending(
    program
      .command('ingest')
      .description('ingest HL7v2 or FHIR (NDJSON, Bundle, Bulk export folder) files into the local ledger and feature store')
      .option('-c, --config <file>', 'YAML config file')
      .argument('<files...>', 'input files or folders'),
    'fhirfed ingest',
  );
}
