import { readFileSync } from 'node:fs';
import { FhirfedError } from '../core/errors.js';

/**
 * Reads a secret from a file (a mounted Kubernetes Secret) or, failing that, an environment variable. Secrets never
 * live in the YAML config and are never logged; a missing secret is reported by name, not by value.
 */
export function readSecret(opts: { file?: string; envVar: string; env?: NodeJS.ProcessEnv; what: string; required?: boolean }): string | undefined {
  const env = opts.env ?? process.env;
  if (opts.file) {
    try {
      const v = readFileSync(opts.file, 'utf8').trim();
      if (v) return v;
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `cannot read ${opts.what} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
        where: { file: opts.file },
        hint: `mount the secret file or set ${opts.envVar}`,
      });
    }
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `${opts.what} file is empty`, { where: { file: opts.file } });
  }
  const fromEnv = env[opts.envVar];
  if (fromEnv) return fromEnv;
  if (opts.required) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `${opts.what} is not set`, {
      hint: `set ${opts.envVar} or point the config at a secret file`,
    });
  }
  return undefined;
}
