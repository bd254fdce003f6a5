import fhirpath from 'fhirpath';
import type { UserInvocationTable } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { FhirfedError } from '../../core/errors.js';
import { compileFastPath, SLOW } from './fastpath.js';
import { referenceKey, resourceKey } from './keys.js';
import type { ConstantDef } from './types.js';

/**
 * Compiles each FHIRPath expression of a view once: syntax and constant names are checked when the view loads, a fast
 * path is used where one applies, and fhirpath.js (R4 model, compiled) does everything else.
 */

/** What an expression is evaluated on: plain JSON (typed by a model path when known) or fhirpath.js nodes. */
export type EvalContext =
  | { readonly plain: true; readonly root: boolean; readonly base?: string }
  | { readonly plain: false };

export interface Evaluator {
  readonly expression: string;
  /** JSON path of the expression inside the view, for error messages. */
  readonly at: string;
  /** Context the results form when used as iteration nodes (forEach etc.). */
  readonly resultContext: EvalContext;
  readonly fast: boolean;
  /** Evaluates on `node` (undefined: the empty collection); throws the raw fhirpath.js error on failure. */
  eval(node: unknown, rowIndex: number): unknown[];
}

const USER_FUNCTIONS: UserInvocationTable = {
  // SQL on FHIR expects '' for an empty input, where fhirpath.js 5.2.2 returns empty.
  join: {
    fn: (inputs: unknown[], separator?: string) => [inputs.map((x) => String(x)).join(separator ?? '')],
    arity: { 0: [], 1: ['String'] },
  },
  getResourceKey: {
    fn: (inputs: unknown[]) => inputs.map(resourceKey).filter((k) => k !== undefined),
    arity: { 0: [] },
  },
  getReferenceKey: {
    fn: (inputs: unknown[], type?: { name?: string }) => inputs.map((r) => referenceKey(r, type?.name)).filter((k) => k !== undefined),
    arity: { 0: [], 1: ['TypeSpecifier'] },
  },
};

/** Environment variables fhirpath.js provides itself, plus the engine's %rowIndex. */
const BUILTIN_VARS = new Set(['rowIndex', 'context', 'ucum', 'factory']);

const DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;
const DATETIME = /^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const TIME = /^\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?$/;

interface AstNode {
  readonly type: string;
  readonly text?: string;
  readonly children?: readonly AstNode[];
}

export class ExpressionCompiler {
  /** One mutable environment: %rowIndex is set right before each (synchronous) evaluation. */
  private readonly env: Record<string, unknown> = { rowIndex: 0 };
  private readonly names: Set<string>;

  constructor(
    private readonly source: string | undefined,
    constants: readonly ConstantDef[],
  ) {
    for (const c of constants) this.env[c.name] = this.constantValue(c);
    this.names = new Set(constants.map((c) => c.name));
  }

  private invalid(at: string, message: string, hint?: string, cause?: unknown): FhirfedError {
    return new FhirfedError('FHIRFED_ERR_VIEW_INVALID', message, { where: { file: this.source, path: at }, hint, cause });
  }

  /** Typed FHIRPath values, so `birthDate = %bd` compares dates rather than a date with a string. */
  private constantValue(c: ConstantDef): unknown {
    const v = c.value;
    const at = `${c.at}.value${c.valueType}`;
    let literal: string | undefined;
    if (c.valueType === 'Date') {
      if (typeof v !== 'string' || !DATE.test(v)) throw this.invalid(at, `not a FHIR date: ${JSON.stringify(v)}`, 'use YYYY, YYYY-MM or YYYY-MM-DD');
      literal = `@${v}`;
    } else if (c.valueType === 'DateTime' || c.valueType === 'Instant') {
      if (typeof v !== 'string' || !DATETIME.test(v)) throw this.invalid(at, `not a FHIR ${c.valueType}: ${JSON.stringify(v)}`);
      literal = v.includes('T') ? `@${v}` : `@${v}T`;
    } else if (c.valueType === 'Time') {
      if (typeof v !== 'string' || !TIME.test(v)) throw this.invalid(at, `not a FHIR time: ${JSON.stringify(v)}`, 'use hh:mm:ss');
      literal = `@T${v}`;
    } else if (c.valueType === 'Integer64' && typeof v === 'string') {
      return Number(v);
    }
    if (literal === undefined) return v;
    return (fhirpath.evaluate({}, literal, {}, r4, { resolveInternalTypes: false }) as unknown[])[0];
  }

  private parse(expression: string, at: string): AstNode {
    try {
      return fhirpath.parse(expression) as AstNode;
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw this.invalid(at, `invalid FHIRPath ${JSON.stringify(expression)}: ${why}`, 'see https://hl7.org/fhirpath/', e);
    }
  }

  private checkConstants(node: AstNode, expression: string, at: string): void {
    if (node.type === 'ExternalConstantTerm' && node.text !== undefined) {
      const name = node.text.replace(/^[`'](.*)[`']$/, '$1');
      if (!this.names.has(name) && !BUILTIN_VARS.has(name)) {
        const known = [...this.names].map((n) => `%${n}`).join(', ') || 'none';
        throw this.invalid(at, `${JSON.stringify(expression)} uses undefined constant %${name}`, `defined constants: ${known}`);
      }
    }
    for (const c of node.children ?? []) this.checkConstants(c, expression, at);
  }

  /**
   * Compiles `expression` evaluated on `ctx`. `nodes` keeps fhirpath.js nodes in the result (type information that
   * iteration children need); otherwise results are plain JSON values.
   */
  compile(expression: string, at: string, ctx: EvalContext, nodes: boolean, allowFast = true): Evaluator {
    this.checkConstants(this.parse(expression, at), expression, at);
    const base = ctx.plain && !ctx.root ? ctx.base : undefined;
    const fast = allowFast ? compileFastPath(expression, ctx.plain ? ctx.base : undefined, ctx.plain) : undefined;
    const useFast = fast !== undefined && (!nodes || fast.resultBase !== undefined);
    // A fast iteration yields plain JSON, so its fallback must too (values, not fhirpath.js nodes).
    const slow = this.slow(expression, at, base, nodes && !useFast);
    if (useFast) {
      return {
        expression, at, fast: true,
        resultContext: { plain: true, root: false, base: fast.resultBase },
        eval: (node, rowIndex) => {
          const r = fast.eval(node, rowIndex);
          return r === SLOW ? slow(node, rowIndex) : r;
        },
      };
    }
    return { expression, at, fast: false, resultContext: nodes ? { plain: false } : ctx, eval: slow };
  }

  private slow(expression: string, at: string, base: string | undefined, nodes: boolean): Evaluator['eval'] {
    let compiled: (resource: unknown, env: Record<string, unknown>) => unknown[];
    try {
      const path = base === undefined ? expression : { base, expression };
      compiled = fhirpath.compile(path, r4, { userInvocationTable: USER_FUNCTIONS, resolveInternalTypes: !nodes }) as typeof compiled;
      // An evaluation on the empty collection surfaces unknown functions and wrong arity at load time.
      compiled([], this.env);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw this.invalid(at, `invalid FHIRPath ${JSON.stringify(expression)}: ${why}`, undefined, e);
    }
    const env = this.env;
    return (node, rowIndex) => {
      env.rowIndex = rowIndex;
      return compiled(node === undefined ? [] : node, env);
    };
  }
}
