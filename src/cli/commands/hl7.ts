import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Bundle } from 'fhir/r4.js';
import { FhirfedError, formatError, isFhirfedError } from '../../core/errors.js';
import { convertToFhir, parseHl7Batch, type ConvertOptions } from '../../ingest/hl7v2/index.js';
import { action } from '../run.js';

interface ToFhirFlags {
  readonly format: string;
  readonly bundleType: string;
  readonly timezone?: string;
  readonly skipUnsupported?: boolean;
}

const FORMATS = ['ndjson', 'array', 'pretty'] as const;

/**
 * `fhirfed hl7 ...`: HL7v2 tools.
 *
 * `hl7 to-fhir FILE` prints one FHIR Bundle per message. Output formats: `ndjson` (default; one Bundle per line, in
 * message order, also for a single message or an FHS/BHS batch), `array` (one JSON array) and `pretty` (indented
 * JSON; an array when the file holds several messages). Unparseable input or an unsupported message type exits
 * non-zero naming the segment, field and line; `--skip-unsupported` reports unsupported messages on stderr and
 * converts the rest.
 */
export function register(program: Command): void {
  const hl7 = program.command('hl7').description('HL7v2 tools');
  hl7
    .command('to-fhir')
    .description('convert the HL7v2 messages in FILE (one, several, or an FHS/BHS batch) to FHIR R4 Bundles on stdout')
    .argument('<file>', 'HL7v2 file (any segment separator; charset from MSH-18 or a UTF-8 BOM)')
    .option('--format <format>', `output: ${FORMATS.join(' | ')}`, 'ndjson')
    .option('--bundle-type <type>', 'batch | transaction', 'batch')
    .option('--timezone <offset>', 'UTC offset for v2 times without one, e.g. +01:00 (default: the offset of MSH-7, else Z)')
    .option('--skip-unsupported', 'report unsupported message types on stderr instead of failing')
    .action(action(async (file: string, flags: ToFhirFlags) => toFhir(file, flags)));
}

async function toFhir(file: string, flags: ToFhirFlags): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(flags.format)) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `unknown --format '${flags.format}'`, { hint: `use one of: ${FORMATS.join(', ')}` });
  }
  if (flags.bundleType !== 'batch' && flags.bundleType !== 'transaction') {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `unknown --bundle-type '${flags.bundleType}'`, { hint: 'use batch or transaction' });
  }
  if (flags.timezone !== undefined && !/^(Z|[+-]\d{2}:\d{2})$/.test(flags.timezone)) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `--timezone '${flags.timezone}' is not a UTC offset`, { hint: "write Z or ±hh:mm, e.g. '+01:00'" });
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
      where: { file },
      hint: 'check the path and the file permissions',
    });
  }
  const options: ConvertOptions = {
    bundleType: flags.bundleType,
    ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
  };
  const bundles: Bundle[] = [];
  let batch;
  try {
    batch = parseHl7Batch(bytes);
  } catch (e) {
    throw withFile(e, file);
  }
  for (const msg of batch.messages) {
    try {
      bundles.push(convertToFhir(msg, options));
    } catch (e) {
      if (flags.skipUnsupported && isFhirfedError(e) && e.code === 'FHIRFED_ERR_HL7_UNSUPPORTED') {
        process.stderr.write(`${formatError(withFile(e, file))}\n`);
        continue;
      }
      throw withFile(e, file);
    }
  }
  if (flags.format === 'ndjson') {
    for (const b of bundles) process.stdout.write(`${JSON.stringify(b)}\n`);
  } else if (flags.format === 'array') {
    process.stdout.write(`${JSON.stringify(bundles)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(bundles.length === 1 ? bundles[0] : bundles, null, 2)}\n`);
  }
}

/** Adds the file name to an error's location so the message reads `file:line (PID-7)`. */
function withFile(e: unknown, file: string): unknown {
  if (!isFhirfedError(e)) return e;
  return new FhirfedError(e.code, e.message, {
    where: { ...e.where, file },
    ...(e.hint ? { hint: e.hint } : {}),
    details: e.details,
  });
}
