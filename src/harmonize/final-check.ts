import type { FeatureSpec } from './schema.js';
import { quarantine, type Cell, type Quarantine } from './transformers/contract.js';

/**
 * The last gate before a value enters a feature row: it must have the schema's type, and a numeric value with a unit
 * must already be in the canonical unit. This is what makes a mapping that forgot a conversion fail per value,
 * visibly, instead of training on mg/dL at one site and mmol/L at another.
 */
export function finalCheck(cell: Cell, f: FeatureSpec): Cell | Quarantine {
  const v = cell.value;
  if (v === null) return cell;
  switch (f.type) {
    case 'number':
    case 'integer': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) return quarantine(cell, 'type-mismatch', `expected a number, got ${typeof v}`);
      if (f.unit !== undefined && cell.unit !== undefined && cell.unit !== f.unit) {
        return quarantine(cell, 'unit-not-canonical', `value is in \`${cell.unit}\`, the schema unit is \`${f.unit}\` (add a ucum transformer)`);
      }
      if (f.range && (n < f.range[0] || n > f.range[1])) {
        return quarantine(cell, 'implausible-value', `${n} is outside the schema range [${f.range[0]}, ${f.range[1]}]`);
      }
      return { ...cell, value: f.type === 'integer' ? Math.round(n) : n };
    }
    case 'boolean': {
      if (typeof v === 'boolean') return cell;
      if (v === 0 || v === 1 || v === 'true' || v === 'false') return { ...cell, value: v === 1 || v === 'true' };
      return quarantine(cell, 'type-mismatch', `expected a boolean, got \`${String(v)}\``);
    }
    case 'categorical': {
      const s = String(v);
      if (!(f.codes ?? []).includes(s)) return quarantine(cell, 'code-not-allowed', `\`${s}\` is not one of ${(f.codes ?? []).join(', ')}`);
      return { ...cell, value: s };
    }
  }
}
