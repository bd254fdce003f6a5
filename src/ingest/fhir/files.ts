import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { FhirfedError } from '../../core/errors.js';
import type { LedgerEntry } from '../ledger/index.js';
import { deadFhirEntry, fhirEntry, unbundle } from '../pipeline.js';

/**
 * FHIR files as ledger entries: NDJSON (Bulk Data output, streamed line by line so a 1 GB export never sits in
 * memory), a JSON Bundle (its entries, nested Bundles flattened), a JSON array of resources, or one resource.
 * A bad line is a dead letter naming file:line, not the end of the file.
 */

function invalidJson(file: string, line: number | undefined, e: unknown): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `not valid JSON: ${(e as Error).message}`, {
    where: { file, ...(line !== undefined ? { line } : {}) },
    hint: 'each NDJSON line must be one complete JSON resource; .json files hold one resource, an array or a Bundle',
  });
}

/** Lines of an NDJSON file as entries (blank lines skipped). */
export async function* ndjsonEntries(file: string, source = file): AsyncGenerator<LedgerEntry> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      yield deadFhirEntry(line, invalidJson(file, n, e), source);
      continue;
    }
    for (const r of unbundle(json)) yield fhirEntry(r, source, `${file}:${n}`);
  }
}

/** A JSON file: Bundle, array of resources, or one resource. A file that is not JSON at all is one dead letter. */
export async function* jsonFileEntries(file: string, source = file): AsyncGenerator<LedgerEntry> {
  const text = await readText(file);
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    yield deadFhirEntry(text, invalidJson(file, undefined, e), source);
    return;
  }
  const items = Array.isArray(json) ? json : [json];
  for (const item of items) for (const r of unbundle(item)) yield fhirEntry(r, source, file);
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      where: { file },
      hint: 'check the path and the file permissions',
    });
  }
}

/**
 * Whether an NDJSON file is a Bulk Data export log (`log.ndjson`: kickoff/status events, no resources): those are
 * skipped when a Bulk export folder is ingested.
 */
export function isBulkLog(firstLine: string): boolean {
  try {
    const j = JSON.parse(firstLine) as { resourceType?: unknown; eventId?: unknown };
    return j.resourceType === undefined && j.eventId !== undefined;
  } catch {
    return false;
  }
}
