import { createRequire } from 'node:module';

/**
 * UCUM validity of a unit string, via @lhncbc/ucum-lhc. Loaded on first use (its tables take ~100 ms to load) and
 * cached per unit string, because a feed uses a few dozen units millions of times.
 */
interface UcumUtils {
  validateUnitString(unit: string): { status: string };
}

let utils: UcumUtils | undefined;
const cache = new Map<string, boolean>();

export function isUcum(unit: string): boolean {
  const hit = cache.get(unit);
  if (hit !== undefined) return hit;
  if (!utils) {
    const require = createRequire(import.meta.url);
    const mod = require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
    utils = mod.UcumLhcUtils.getInstance();
  }
  let ok = false;
  try {
    ok = utils.validateUnitString(unit).status === 'valid';
  } catch {
    ok = false;
  }
  if (cache.size < 10_000) cache.set(unit, ok);
  return ok;
}
