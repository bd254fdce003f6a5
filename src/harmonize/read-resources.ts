import { createReadStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { FhirfedError } from '../core/errors.js';

/**
 * FHIR resources from files for dry runs: NDJSON (one resource per line, streamed), a JSON Bundle (its entries) or a
 * single JSON resource; a directory yields its .ndjson/.json files in name order. Bad JSON is an error naming the
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

function invalid(file: string, line: number | undefined, message: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_FHIR_INVALID', message, {
    where: { file, ...(line !== undefined ? { line } : {}) },
    hint: 'each NDJSON line must be one JSON resource; .json files hold one resource or a Bundle',
  });
}

function* unbundle(json: unknown): Generator<unknown> {
  const r = json as { resourceType?: unknown; entry?: { resource?: unknown }[] };
  if (r && r.resourceType === 'Bundle') {
    for (const e of Array.isArray(r.entry) ? r.entry : []) if (e && typeof e === 'object' && e.resource) yield* unbundle(e.resource);
  } else yield json;
}

export async function* readResources(paths: readonly string[]): AsyncGenerator<unknown> {
  for (const file of expandInputs(paths)) {
    if (extname(file) === '.json') {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw invalid(file, undefined, `not valid JSON: ${(e as Error).message}`);
      }
      yield* unbundle(json);
      continue;
    }
    const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const line of rl) {
      n++;
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (e) {
        rl.close();
        throw invalid(file, n, `line is not valid JSON: ${(e as Error).message}`);
      }
      yield* unbundle(json);
    }
  }
}
