import { FhirfedError } from '../../core/errors.js';
import type { Transformer } from './contract.js';
import { STAGE_ORDER } from './contract.js';
import { ageTransformer } from './age.js';
import { aggregateTransformer } from './aggregate.js';
import { conceptMapTransformer } from './concept-map.js';
import { hba1cTransformer } from './hba1c.js';
import { oneHotTransformer } from './one-hot.js';
import { plausibilityTransformer } from './plausibility.js';
import { thresholdTransformer } from './threshold.js';
import { ucumTransformer } from './ucum.js';
import { unitRepairTransformer } from './unit-repair.js';
import { valueMapTransformer } from './value-map.js';

/**
 * Name -> transformer. Mapping files may only name registered transformers; the loader asks the registry when it
 * reads the file, so an unknown name fails `mappings validate`, not a training run.
 */
export class TransformerRegistry {
  readonly #byName = new Map<string, Transformer>();

  register(def: Transformer, origin = 'built-in'): void {
    const problem = shapeProblem(def);
    if (problem) {
      throw new FhirfedError('FHIRFED_ERR_TRANSFORMER_UNKNOWN', `${origin}: not a transformer (${problem})`, {
        hint: 'export an object { name, version, description, stage, params, create } (see src/harmonize/transformers/contract.ts)',
      });
    }
    if (this.#byName.has(def.name)) {
      throw new FhirfedError('FHIRFED_ERR_TRANSFORMER_UNKNOWN', `${origin}: a transformer named \`${def.name}\` is already registered`, {
        hint: 'give the custom transformer a different name',
      });
    }
    this.#byName.set(def.name, def);
  }

  get(name: string): Transformer | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /** A copy that custom transformers can be added to without touching this registry. */
  clone(): TransformerRegistry {
    const r = new TransformerRegistry();
    for (const def of this.#byName.values()) r.#byName.set(def.name, def);
    return r;
  }
}

function shapeProblem(def: unknown): string | undefined {
  if (typeof def !== 'object' || def === null) return 'not an object';
  const d = def as Record<string, unknown>;
  if (typeof d.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(d.name)) return '`name` must be kebab-case';
  if (typeof d.version !== 'string' || d.version === '') return '`version` is missing';
  if (typeof d.stage !== 'string' || !(d.stage in STAGE_ORDER)) return '`stage` must be code, value, aggregate or feature';
  if (typeof (d.params as { safeParse?: unknown } | undefined)?.safeParse !== 'function') return '`params` needs a safeParse method (a zod schema)';
  if (typeof d.create !== 'function') return '`create` is not a function';
  return undefined;
}

export const BUILTIN_TRANSFORMERS: readonly Transformer[] = [
  unitRepairTransformer,
  ucumTransformer,
  hba1cTransformer,
  conceptMapTransformer,
  valueMapTransformer,
  plausibilityTransformer,
  aggregateTransformer,
  oneHotTransformer,
  ageTransformer,
  thresholdTransformer,
] as readonly Transformer[];

export function builtinRegistry(): TransformerRegistry {
  const r = new TransformerRegistry();
  for (const t of BUILTIN_TRANSFORMERS) r.register(t);
  return r;
}
