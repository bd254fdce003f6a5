import { createRequire } from 'node:module';

/**
 * A thin, typed wrapper over @lhncbc/ucum-lhc (which ships no types). Everything unit-related in fhirfed goes through
 * here so the UCUM quirks are handled in one place: mass<->mole needs a molecular weight, `{...}` annotations count
 * as 1, and invalid strings are reported rather than thrown.
 */

interface UcumConversion {
  status: 'succeeded' | 'failed' | 'error';
  toVal: number | null;
  msg: string[];
}
interface UcumValidation {
  status: 'valid' | 'invalid' | 'error';
}
interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string, options?: { molecularWeight?: number }): UcumConversion;
  validateUnitString(unit: string, suggest?: boolean): UcumValidation;
}

const require = createRequire(import.meta.url);
let utils: UcumUtils | undefined;

function ucum(): UcumUtils {
  // Loading the UCUM tables costs ~100 ms; only pay it when a unit is actually used.
  if (!utils) {
    const pkg = require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } };
    utils = pkg.UcumLhcUtils.getInstance();
  }
  return utils;
}

const validCache = new Map<string, boolean>();

export function isValidUcum(unit: string): boolean {
  let ok = validCache.get(unit);
  if (ok === undefined) {
    ok = unit.trim() === unit && unit.length > 0 && ucum().validateUnitString(unit).status === 'valid';
    validCache.set(unit, ok);
  }
  return ok;
}

export type ConversionResult = { ok: true; value: number } | { ok: false; reason: string };

export function convertUnit(value: number, from: string, to: string, molecularWeight?: number): ConversionResult {
  if (from === to) return { ok: true, value };
  if (!isValidUcum(from)) return { ok: false, reason: `\`${from}\` is not a valid UCUM unit` };
  const r = ucum().convertUnitTo(from, value, to, molecularWeight === undefined ? {} : { molecularWeight });
  if (r.status === 'succeeded' && typeof r.toVal === 'number' && Number.isFinite(r.toVal)) return { ok: true, value: r.toVal };
  const mw = r.msg.some((m) => m.includes('molecular weight'));
  return {
    ok: false,
    reason: mw
      ? `\`${from}\` -> \`${to}\` converts between mass and moles and needs the analyte's molecular weight`
      : `\`${from}\` is not convertible to \`${to}\``,
  };
}

/** Whether `from` can be converted to `to` at all (probe with 1). */
export function isConvertible(from: string, to: string, molecularWeight?: number): ConversionResult {
  return convertUnit(1, from, to, molecularWeight);
}

/** The sorted `{...}` annotations in a unit string (`mL/min/{1.73_m2}` -> [`{1.73_m2}`]). */
export function annotations(unit: string): string[] {
  return (unit.match(/\{[^}]*\}/g) ?? []).sort();
}
