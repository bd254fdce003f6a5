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

/** One NDJSON line: its parsed JSON, or the text and why it is not JSON. */
export type NdjsonItem = { readonly line: number; readonly json: unknown } | { readonly line: number; readonly text: string; readonly error: FhirfedError };

/** The non-blank lines of an NDJSON file, streamed (a 1 GB Bulk export never sits in memory). */
export async function* ndjsonItems(file: string): AsyncGenerator<NdjsonItem> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of rl) {
      n++;
      if (line.trim() === '') continue;
      try {
        yield { line: n, json: JSON.parse(n === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line) };
      } catch (e) {
        yield { line: n, text: line, error: invalidJson(file, n, e) };
      }
    }
  } finally {
    rl.close();
  }
}

/** A JSON file's content: Bundle, array of resources, or one resource (a UTF-8 BOM is dropped). */
export async function parseJsonFile(file: string): Promise<{ readonly json: unknown; readonly text: string } | { readonly text: string; readonly error: FhirfedError }> {
  const text = await readText(file);
  try {
    return { json: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), text };
  } catch (e) {
    return { text, error: invalidJson(file, undefined, e) };
  }
}

/** The resources in parsed JSON: a Bundle's entries (nested Bundles flattened), an array's items, or itself. */
export function* resourcesOf(json: unknown): Generator<unknown> {
  for (const item of Array.isArray(json) ? json : [json]) yield* unbundle(item);
}

/** Lines of an NDJSON file as entries (blank lines skipped). */
export async function* ndjsonEntries(file: string, source = file): AsyncGenerator<LedgerEntry> {
  for await (const item of ndjsonItems(file)) {
    if ('error' in item) yield deadFhirEntry(item.text, item.error, source);
    else for (const r of unbundle(item.json)) yield fhirEntry(r, source, `${file}:${item.line}`);
  }
}

/** A JSON file: Bundle, array of resources, or one resource. A file that is not JSON at all is one dead letter. */
export async function* jsonFileEntries(file: string, source = file): AsyncGenerator<LedgerEntry> {
  const parsed = await parseJsonFile(file);
  if ('error' in parsed) {
    yield deadFhirEntry(parsed.text, parsed.error, source);
    return;
  }
  for (const r of resourcesOf(parsed.json)) yield fhirEntry(r, source, file);
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
