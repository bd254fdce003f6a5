import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FhirfedError } from '../core/errors.js';
import { ndjsonItems, parseJsonFile, resourcesOf } from '../ingest/fhir/files.js';
import { unbundle } from '../ingest/pipeline.js';

/**
 * FHIR resources from files for dry runs: NDJSON (one resource per line, streamed), a JSON Bundle (its entries) or a
 * single JSON resource (or an array of them); a directory yields its .ndjson/.json files in name order. Bad JSON is an error naming the
 * file and line, not a crash.
 */

const EXTENSIONS = new Set(['.ndjson', '.jsonl', '.json']);

export function expandInputs(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `input ${p} not found`, { hint: 'pass NDJSON, Bundle or resource JSON files, or folders of them' });
    }
    if (st.isDirectory()) {
      out.push(...expandInputs(readdirSync(p).sort().filter((f) => EXTENSIONS.has(extname(f)) || statSync(join(p, f)).isDirectory()).map((f) => join(p, f))));
    } else out.push(p);
  }
  return out;
}

/** Every resource in the files, in order. The first line or file that is not JSON is an error naming file and line. */
export async function* readResources(paths: readonly string[]): AsyncGenerator<unknown> {
  for (const file of expandInputs(paths)) {
    if (extname(file) === '.json') {
      const parsed = await parseJsonFile(file);
      if ('error' in parsed) throw parsed.error;
      yield* resourcesOf(parsed.json);
      continue;
    }
    for await (const item of ndjsonItems(file)) {
      if ('error' in item) throw item.error;
      yield* unbundle(item.json);
    }
  }
}
