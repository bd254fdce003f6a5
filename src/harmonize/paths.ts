import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { FhirfedError } from '../core/errors.js';

/**
 * Resolves `rel` against `root` and refuses anything that ends up outside it, following symlinks (realpath), so a
 * mapping file cannot make the gateway read or import arbitrary files.
 */
export function resolveInside(root: string, rel: string, what: string): string {
  const realRoot = realpathSync(root);
  const candidate = resolve(realRoot, rel);
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `${what} \`${rel}\` not found`, { hint: `paths are relative to ${root}` });
  }
  const r = relative(realRoot, real);
  if (r === '' || r.startsWith(`..${sep}`) || r === '..' || isAbsolute(r)) {
    throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${what} \`${rel}\` is outside ${root}`, {
      hint: 'keep the file inside the configured folder (symlinks pointing out of it are refused too)',
    });
  }
  return real;
}
