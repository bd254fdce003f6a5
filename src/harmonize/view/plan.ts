import { FhirfedError } from '../../core/errors.js';
import type { EvalContext, Evaluator, ExpressionCompiler } from './expression.js';
import type { ColumnDef, SelectDef } from './types.js';

/**
 * Row generation (SQL on FHIR v2 "process a select"): a select yields tuples, one value per output column; its
 * columns, nested selects and unionAll branches are combined by cartesian product, and forEach / forEachOrNull /
 * repeat run the body once per node with %rowIndex set to the node's position.
 */

type Tuple = unknown[];

/** Resource being evaluated, for runtime error messages. */
export interface RunState {
  resourceId: string;
}

export function runtimeError(at: string, expression: string, state: RunState, e: unknown): FhirfedError {
  if (e instanceof FhirfedError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new FhirfedError('FHIRFED_ERR_FHIRPATH', `evaluating ${JSON.stringify(expression)} on resource '${state.resourceId}' failed: ${why}`, {
    where: { path: at },
    hint: 'check the expression against the resource; the view itself compiled',
    cause: e,
  });
}

export function evalAt(ev: Evaluator, node: unknown, rowIndex: number, state: RunState): unknown[] {
  try {
    return ev.eval(node, rowIndex);
  } catch (e) {
    throw runtimeError(ev.at, ev.expression, state, e);
  }
}

class ColumnPlan {
  constructor(
    readonly def: ColumnDef,
    readonly ev: Evaluator,
  ) {}

  value(node: unknown, rowIndex: number, state: RunState): unknown {
    const v = evalAt(this.ev, node, rowIndex, state);
    if (this.def.collection) return v;
    if (v.length === 0) return null;
    if (v.length === 1) return v[0];
    throw new FhirfedError('FHIRFED_ERR_FHIRPATH',
      `column '${this.def.name}' (${JSON.stringify(this.def.path)}) returned ${v.length} values on resource '${state.resourceId}'`, {
        where: { path: this.ev.at },
        hint: 'set "collection": true on the column, or narrow the path (e.g. first(), where(...), or a forEach)',
      });
  }
}

interface Iterator {
  /** The nodes to run the body on, each with its %rowIndex. */
  nodes(node: unknown, rowIndex: number, state: RunState): Array<[unknown, number]>;
}

function forEachIterator(ev: Evaluator, orNull: boolean): Iterator {
  return {
    nodes(node, rowIndex, state) {
      const items = evalAt(ev, node, rowIndex, state);
      if (items.length === 0) return orNull ? [[undefined, 0]] : [];
      return items.map((x, i): [unknown, number] => [x, i]);
    },
  };
}

/** Depth-first, pre-order: a node, then what each repeat path finds under it, recursively. */
function repeatIterator(first: readonly Evaluator[], deeper: readonly Evaluator[]): Iterator {
  return {
    nodes(node, rowIndex, state) {
      const out: unknown[] = [];
      const walk = (n: unknown, evs: readonly Evaluator[], depth: number): void => {
        if (depth > 64) throw runtimeError(first[0]?.at ?? '', 'repeat', state, new Error('repeat nests deeper than 64 levels'));
        for (const ev of evs) {
          for (const child of evalAt(ev, n, rowIndex, state)) {
            out.push(child);
            walk(child, deeper, depth + 1);
          }
        }
      };
      walk(node, first, 0);
      return out.map((x, i): [unknown, number] => [x, i]);
    },
  };
}

export class SelectPlan {
  constructor(
    private readonly iterator: Iterator | undefined,
    private readonly columns: readonly ColumnPlan[],
    private readonly children: readonly SelectPlan[],
    private readonly unions: readonly SelectPlan[],
  ) {}

  rows(node: unknown, rowIndex: number, state: RunState): Tuple[] {
    if (!this.iterator) return this.body(node, rowIndex, state);
    const out: Tuple[] = [];
    for (const [n, i] of this.iterator.nodes(node, rowIndex, state)) {
      for (const t of this.body(n, i, state)) out.push(t);
    }
    return out;
  }

  private body(node: unknown, rowIndex: number, state: RunState): Tuple[] {
    const own: Tuple = this.columns.map((c) => c.value(node, rowIndex, state));
    let acc: Tuple[] = [own];
    for (const child of this.children) {
      acc = product(acc, child.rows(node, rowIndex, state));
      if (acc.length === 0) return acc;
    }
    if (this.unions.length > 0) {
      const union: Tuple[] = [];
      for (const u of this.unions) for (const t of u.rows(node, rowIndex, state)) union.push(t);
      acc = product(acc, union);
    }
    return acc;
  }
}

function product(left: Tuple[], right: Tuple[]): Tuple[] {
  if (right.length === 1 && left.length === 1) return [(left[0] as Tuple).concat(right[0] as Tuple)];
  const out: Tuple[] = [];
  for (const l of left) for (const r of right) out.push(l.concat(r));
  return out;
}

/** Compiles a select (and everything under it) for contexts of kind `ctx`. */
export function planSelect(s: SelectDef, ctx: EvalContext, fp: ExpressionCompiler): SelectPlan {
  let iterator: Iterator | undefined;
  let inner = ctx;
  const it = s.iteration;
  if (it?.kind === 'repeat') {
    const first = it.paths.map((p, i) => fp.compile(p, `${it.at}[${i}]`, ctx, true, false));
    const deeper = it.paths.map((p, i) => fp.compile(p, `${it.at}[${i}]`, { plain: false }, true, false));
    iterator = repeatIterator(first, deeper);
    inner = { plain: false };
  } else if (it) {
    const ev = fp.compile(it.path, it.at, ctx, true);
    iterator = forEachIterator(ev, it.kind === 'forEachOrNull');
    inner = ev.resultContext;
  }
  const columns = s.columns.map((c) => new ColumnPlan(c, fp.compile(c.path, `${c.at}.path`, inner, false)));
  const children = s.selects.map((x) => planSelect(x, inner, fp));
  const unions = s.unionAll.map((x) => planSelect(x, inner, fp));
  return new SelectPlan(iterator, columns, children, unions);
}
