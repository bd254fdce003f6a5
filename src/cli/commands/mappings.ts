import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed mappings ...`: validate and dry-run per-site mapping files. */
export function register(program: Command): void {
  const m = program.command('mappings').description('validate and dry-run the harmonization mapping files');
  pending(
    m.command('validate').description('parse and type-check every mapping file and FHIRPath expression').argument('[dir]', 'mappings directory', 'mappings'),
    'fhirfed mappings validate',
  );
  pending(
    m
      .command('dry-run')
      .description('run a site\'s mappings over FHIR files and print a coverage report')
      .requiredOption('--site <site>', 'site id (folder under mappings/sites)')
      .option('--json', 'print the report as JSON')
      .argument('<files...>', 'FHIR NDJSON, Bundle or resource files'),
    'fhirfed mappings dry-run',
  );
}
