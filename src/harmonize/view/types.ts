/** Public and internal shapes of the SQL on FHIR v2 ViewDefinition engine. */

export interface ViewColumn {
  readonly name: string;
  readonly type?: string;
  readonly collection: boolean;
  readonly description?: string;
  /** The column's FHIRPath expression. */
  readonly path: string;
}

export interface CompiledView {
  readonly name?: string;
  readonly resource: string;
  readonly columns: readonly ViewColumn[];
  /** rows for one resource (empty if the resource type differs or where fails) */
  evaluate(resource: unknown): Record<string, unknown>[];
}

export interface CompileViewOptions {
  /** file name for error messages */
  readonly source?: string;
}

/** A column after structural validation; `at` is its JSON path inside the view (`select[0].column[2]`). */
export interface ColumnDef extends ViewColumn {
  readonly at: string;
}

export type Iteration =
  | { readonly kind: 'forEach' | 'forEachOrNull'; readonly path: string; readonly at: string }
  | { readonly kind: 'repeat'; readonly paths: readonly string[]; readonly at: string };

export interface SelectDef {
  readonly at: string;
  readonly columns: readonly ColumnDef[];
  readonly selects: readonly SelectDef[];
  readonly unionAll: readonly SelectDef[];
  readonly iteration?: Iteration;
}

export interface ConstantDef {
  readonly name: string;
  /** the value[x] suffix, e.g. `String`, `DateTime` */
  readonly valueType: string;
  readonly value: unknown;
  readonly at: string;
}

export interface WhereDef {
  readonly path: string;
  readonly at: string;
}

export interface ViewDef {
  readonly name?: string;
  readonly resource: string;
  readonly constants: readonly ConstantDef[];
  readonly where: readonly WhereDef[];
  readonly selects: readonly SelectDef[];
}
