import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed view --view V.json FILE...`: evaluate a SQL on FHIR ViewDefinition, one JSON row per line. */
export function register(program: Command): void {
  pending(
    program
      .command('view')
      .description('evaluate a SQL on FHIR v2 ViewDefinition over NDJSON, Bundle or resource files; one JSON row per line')
      .requiredOption('--view <file>', 'ViewDefinition JSON file')
      .argument('<files...>', 'input files'),
    'fhirfed view',
  );
}
