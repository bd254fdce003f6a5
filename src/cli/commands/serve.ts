import type { Command } from 'commander';
import { pending } from './_pending.js';

export function register(program: Command): void {
  pending(program.command('serve').description('run the hospital gateway').option('-c, --config <file>', 'YAML config file'), 'fhirfed serve');
}
