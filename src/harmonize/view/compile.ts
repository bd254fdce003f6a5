import r4 from 'fhirpath/fhir-context/r4/index.js';
import { FhirfedError } from '../../core/errors.js';
import { columnsOf, parseViewDefinition } from './definition.js';
import { ExpressionCompiler, type Evaluator } from './expression.js';
import { evalAt, planSelect, type RunState, type SelectPlan } from './plan.js';
import type { CompiledView, CompileViewOptions, ViewColumn } from './types.js';

/**
 * compileView: validates a SQL on FHIR v2 ViewDefinition, compiles every FHIRPath expression once, and returns an
 * evaluator of rows per resource. Invalid views throw FHIRFED_ERR_VIEW_INVALID naming the JSON path of the problem;
 * failures on a particular resource throw FHIRFED_ERR_FHIRPATH naming the expression's path.
 */
export function compileView(definition: unknown, options: CompileViewOptions = {}): CompiledView {
  const source = options.source;
  const def = parseViewDefinition(definition, source);
  const kind = r4.type2Parent[def.resource];
  if (kind !== 'DomainResource' && kind !== 'Resource') {
    throw new FhirfedError('FHIRFED_ERR_VIEW_INVALID', `'${def.resource}' is not a FHIR R4 resource type`, {
      where: { file: source, path: 'resource' },
      hint: 'use a resource type name such as Patient or Observation (case-sensitive)',
    });
  }
  const fp = new ExpressionCompiler(source, def.constants);
  const root = { plain: true, root: true, base: def.resource } as const;
  const where = def.where.map((w) => fp.compile(w.path, w.at, root, false));
  const plans = def.selects.map((s) => planSelect(s, root, fp));
  const columns: ViewColumn[] = def.selects.flatMap((s) => columnsOf(s)).map((c) => ({
    name: c.name, collection: c.collection, path: c.path,
    ...(c.type === undefined ? {} : { type: c.type }),
    ...(c.description === undefined ? {} : { description: c.description }),
  }));
  return new ViewEvaluator(def.name, def.resource, columns, where, plans);
}

class ViewEvaluator implements CompiledView {
  private readonly names: readonly string[];

  constructor(
    readonly name: string | undefined,
    readonly resource: string,
    readonly columns: readonly ViewColumn[],
    private readonly where: readonly Evaluator[],
    private readonly plans: readonly SelectPlan[],
  ) {
    this.names = columns.map((c) => c.name);
  }

  evaluate(resource: unknown): Record<string, unknown>[] {
    if (typeof resource !== 'object' || resource === null) return [];
    const r = resource as { resourceType?: unknown; id?: unknown };
    if (r.resourceType !== this.resource) return [];
    const state: RunState = { resourceId: typeof r.id === 'string' ? r.id : '(no id)' };
    for (const w of this.where) if (!this.passes(w, resource, state)) return [];
    let tuples: unknown[][] | undefined;
    for (const plan of this.plans) {
      const part = plan.rows(resource, 0, state);
      if (part.length === 0) return [];
      tuples = tuples === undefined ? part : tuples.flatMap((t) => part.map((p) => t.concat(p)));
    }
    if (tuples === undefined) return [];
    const names = this.names;
    return tuples.map((t) => {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) row[names[i] as string] = t[i];
      return row;
    });
  }

  private passes(w: Evaluator, resource: unknown, state: RunState): boolean {
    const v = evalAt(w, resource, 0, state);
    if (v.length === 0) return false;
    if (v.length === 1 && typeof v[0] === 'boolean') return v[0];
    throw new FhirfedError('FHIRFED_ERR_FHIRPATH',
      `where ${JSON.stringify(w.expression)} returned ${v.length === 1 ? `a ${typeof v[0]}` : `${v.length} values`} on resource '${state.resourceId}', not a boolean`, {
        where: { path: w.at },
        hint: 'a where path must evaluate to true, false or empty, e.g. add .exists() or a comparison',
      });
  }
}
