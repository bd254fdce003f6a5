import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FhirfedError, isFhirfedError } from '../../core/errors.js';
import { resolveInside } from '../paths.js';
import type { Transformer } from './contract.js';
import type { TransformerRegistry } from './registry.js';

/**
 * Site-specific transformers from a configured folder. Each .js/.mjs/.ts file's default export (a transformer or an
 * array of them) is registered under its own name. Files are resolved with realpath and must stay inside the folder:
 * a symlink pointing elsewhere is refused, so a mapping cannot make the gateway execute arbitrary code on disk.
 * (.ts files need the tsx loader, which `bin/fhirfed.js` installs when running from source.)
 */

const EXTENSIONS = new Set(['.js', '.mjs', '.ts']);

export interface CustomLoadResult {
  readonly loaded: readonly string[];
  readonly problems: readonly { file: string; message: string }[];
}

export async function loadCustomTransformers(dir: string, registry: TransformerRegistry): Promise<CustomLoadResult> {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((f) => EXTENSIONS.has(extname(f)) && !f.endsWith('.d.ts')).sort();
  } catch {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `custom transformer folder ${dir} not found`, {
      hint: 'create the folder or remove `customTransformers` from site.yaml',
    });
  }
  const loaded: string[] = [];
  const problems: { file: string; message: string }[] = [];
  for (const name of entries) {
    const file = join(dir, name);
    try {
      const real = resolveInside(dir, name, 'custom transformer');
      const mod = (await import(pathToFileURL(real).href)) as { default?: unknown };
      const exported = mod.default;
      if (exported === undefined) throw new FhirfedError('FHIRFED_ERR_TRANSFORMER_UNKNOWN', 'no default export');
      for (const def of Array.isArray(exported) ? exported : [exported]) {
        registry.register(def as Transformer, file);
        loaded.push((def as Transformer).name);
      }
    } catch (e) {
      problems.push({ file, message: isFhirfedError(e) ? e.message : `cannot load: ${(e as Error).message}` });
    }
  }
  return { loaded, problems };
}
