import type { FeatureSpec } from '../schema.js';

/**
 * The transformer contract: a name, a version, declared parameters (checked when the mapping loads, never at row
 * 10,000) and one function made by `create`. Transformers run in stages, in this order along a feature's chain:
 *
 *   code      per source value, before the feature's `codes` filter (e.g. ConceptMap translation)
 *   value     per source value (unit repair, unit conversion, plausibility)
 *   aggregate many values of one patient -> one value (window relative to the index date)
 *   feature   the one value of a patient (one-hot, thresholds)
 *
 * A row function returns a new cell, a Quarantine (the value becomes missing with a reason; the row survives) or a
 * Skip (the value is not for this feature, e.g. an unmapped local code; counted in the coverage report).
 */

export type Scalar = number | string | boolean | null;

export interface Cell {
  readonly value: Scalar;
  /** UCUM (or raw, before repair) unit string. */
  readonly unit?: string;
  /** Codes of the source value as `system|code` (or a bare code when the system is unknown). */
  readonly codes?: readonly string[];
  /** ISO date or dateTime of the value (effective time). */
  readonly date?: string;
  /** Provenance: the source resource (`Observation/123`) and view column the value came from. */
  readonly resourceKey: string;
  readonly column: string;
  /** A one-hot (or similar) expansion: extra output columns named `<feature>=<key>`. */
  readonly expand?: Readonly<Record<string, number>>;
}

export interface Quarantine {
  readonly kind: 'quarantine';
  /** Stable machine code, e.g. `unit-not-convertible`, `implausible-value`. */
  readonly code: string;
  readonly reason: string;
  readonly resourceKey: string;
  readonly column: string;
}

export interface Skip {
  readonly kind: 'skip';
  readonly code: string;
  /** The code that could not be used, for the "unmapped codes" part of the coverage report. */
  readonly sourceCode?: string;
}

export type RowResult = Cell | Quarantine | Skip;

export interface RowContext {
  readonly patientKey: string;
  /** The patient's index date; windows and ages are computed relative to it. */
  readonly indexDate?: Date;
}

export interface TransformerContext {
  readonly feature: FeatureSpec;
  /** Folder of the site's mapping files; transformers resolve their own files (ConceptMaps) against it. */
  readonly siteDir: string;
  readonly site: string;
}

/** Anything with zod's safeParse: built-ins use zod, custom transformers may bring their own validator. */
export interface ParamSchema<P> {
  safeParse(input: unknown): { success: true; data: P } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

interface BaseDef<P> {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly params: ParamSchema<P>;
}

export type RowFn = (cell: Cell, row: RowContext) => RowResult;
export type AggregateFn = (cells: readonly Cell[], row: RowContext) => Cell | Quarantine | null;

export interface RowTransformer<P = unknown> extends BaseDef<P> {
  readonly stage: 'code' | 'value' | 'feature';
  /** Called once when the mapping loads; throw a FhirfedError to reject the configuration. */
  create(params: P, ctx: TransformerContext): RowFn;
}

export interface AggregateTransformer<P = unknown> extends BaseDef<P> {
  readonly stage: 'aggregate';
  create(params: P, ctx: TransformerContext): AggregateFn;
}

export type Transformer<P = unknown> = RowTransformer<P> | AggregateTransformer<P>;

export const STAGE_ORDER = { code: 0, value: 1, aggregate: 2, feature: 3 } as const;

export function isQuarantine(r: RowResult | null): r is Quarantine {
  return r !== null && (r as Quarantine).kind === 'quarantine';
}

export function isSkip(r: RowResult | null): r is Skip {
  return r !== null && (r as Skip).kind === 'skip';
}

export function quarantine(cell: Cell, code: string, reason: string): Quarantine {
  return { kind: 'quarantine', code, reason, resourceKey: cell.resourceKey, column: cell.column };
}

/** Identity helper so built-ins get their params type inferred from the zod schema. */
export function defineTransformer<P>(def: Transformer<P>): Transformer<P> {
  return def;
}
