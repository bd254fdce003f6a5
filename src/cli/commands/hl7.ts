import type { Command } from 'commander';
import { pending } from './_pending.js';

/** `fhirfed hl7 ...`: HL7v2 tools. */
export function register(program: Command): void {
  const hl7 = program.command('hl7').description('HL7v2 tools');
  pending(
    hl7.command('to-fhir').description('convert HL7v2 messages in FILE to a FHIR R4 Bundle on stdout').argument('<file>', 'HL7v2 file'),
    'fhirfed hl7 to-fhir',
  );
}
