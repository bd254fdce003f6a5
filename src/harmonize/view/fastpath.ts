import r4 from 'fhirpath/fhir-context/r4/index.js';
import { referenceKey, resourceKey } from './keys.js';

/**
 * Fast paths: plain dotted navigation (`subject.reference`, `code.coding.code`, `name[0].family`,
 * `value.ofType(Quantity).value`, `...first()`, `getResourceKey()`, `x.getReferenceKey(T)`, `%rowIndex`, `$this`)
 * evaluated straight on the parsed JSON, skipping fhirpath.js's node wrapping, which costs more than JSON.parse.
 * A path qualifies only when every step is typed by the R4 model (so choice elements and unknown names fall back to
 * fhirpath.js), and a resource whose step has `_name` primitive metadata falls back at run time, so results always
 * equal fhirpath.js's (test/harmonize/view.test.ts checks that on real data).
 */

type Step =
  | { readonly kind: 'member'; readonly name: string; readonly meta: string }
  | { readonly kind: 'index'; readonly n: number }
  | { readonly kind: 'first' };

export interface FastPath {
  /** Values on `node` (undefined = the empty context of forEachOrNull), or SLOW when fhirpath.js must decide. */
  eval(node: unknown, rowIndex: number): unknown[] | typeof SLOW;
  /** Model path of the result's type when it is a complex type or backbone element, for typing nested paths. */
  readonly resultBase?: string;
}

export const SLOW = Symbol('slow');

const RESERVED = new Set(['and', 'or', 'xor', 'implies', 'as', 'is', 'in', 'contains', 'div', 'mod', 'true', 'false']);
const TOKEN = /^(?:([a-z][A-Za-z0-9_]*)(?:\[(\d{1,6})\])?|first\(\)|ofType\(([A-Za-z]+)\)|getReferenceKey\(([A-Z][A-Za-z]*)?\))$/;

function isPrimitive(type: string): boolean {
  return type.startsWith('System.') || /^[a-z]/.test(type);
}

/** Model path of `member` under `base`, or undefined when the model does not type it (or it is a choice). */
function memberType(base: string, member: string): { path: string; type: string } | { choice: string[] } | undefined {
  let owner: string | undefined = base;
  while (owner) {
    const full = `${owner}.${member}`;
    const elsewhere = r4.pathsDefinedElsewhere[full];
    if (elsewhere) return { path: elsewhere, type: 'BackboneElement' };
    const choice = r4.choiceTypePaths[full];
    if (choice) return { choice };
    const t = r4.path2Type[full];
    if (t) return { path: full, type: t };
    owner = r4.type2Parent[owner];
  }
  return undefined;
}

/**
 * Compiles `expression` for contexts that are plain JSON typed as model path `base` (`plain` false: fhirpath.js
 * nodes), or returns undefined when it is not simple.
 */
export function compileFastPath(expression: string, base: string | undefined, plain: boolean): FastPath | undefined {
  const e = expression.trim();
  if (e === '%rowIndex') return { eval: (_n, i) => [i] };
  if (!plain) return undefined;
  if (e === '$this') return { eval: (n) => (n === undefined ? [] : [n]), resultBase: base };
  if (base === undefined) return undefined;
  if (e === 'getResourceKey()') {
    return {
      eval: (n) => {
        const k = resourceKey(n);
        return k === undefined ? [] : [k];
      },
    };
  }
  const steps: Step[] = [];
  let refType: string | null | undefined; // undefined: no getReferenceKey; null: without a type
  let at: string = base;
  let primitive = false;
  const tokens = e.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as string;
    const m = TOKEN.exec(tok);
    if (!m || refType !== undefined) return undefined;
    if (tok === 'first()') {
      if (steps.length === 0) return undefined;
      steps.push({ kind: 'first' });
    } else if (tok.startsWith('getReferenceKey(')) {
      if (at !== 'Reference') return undefined;
      refType = m[4] ?? null;
    } else if (m[1] !== undefined) {
      const name = m[1];
      if (RESERVED.has(name) || primitive) return undefined;
      const t = memberType(at, name);
      if (t === undefined) return undefined;
      let type: string;
      let prop = name;
      if ('choice' in t) {
        // only `x.ofType(T)` on a choice element has a single JSON property: xT
        const next = tokens[i + 1] ?? '';
        const of = /^ofType\(([A-Za-z]+)\)$/.exec(next)?.[1];
        if (of === undefined || m[2] !== undefined) return undefined;
        const cap = of.charAt(0).toUpperCase() + of.slice(1);
        const ok = /^[a-z]/.test(of) ? t.choice.includes(cap) && cap !== of : t.choice.includes(of);
        if (!ok) return undefined;
        prop = name + cap;
        type = of;
        i++;
      } else {
        type = t.type;
      }
      steps.push({ kind: 'member', name: prop, meta: `_${prop}` });
      if (m[2] !== undefined) steps.push({ kind: 'index', n: Number(m[2]) });
      primitive = isPrimitive(type);
      at = type === 'BackboneElement' || type === 'Element' ? ('path' in t ? t.path : at) : type;
    } else {
      return undefined; // a bare ofType(...) not after a choice element
    }
  }
  if (steps.length === 0) return undefined;
  const run = navigate(steps);
  if (refType !== undefined) {
    const type = refType ?? undefined;
    return {
      eval: (n) => {
        const refs = run(n);
        if (refs === SLOW) return SLOW;
        const out: unknown[] = [];
        for (const r of refs) {
          const k = referenceKey(r, type);
          if (k !== undefined) out.push(k);
        }
        return out;
      },
    };
  }
  return { eval: run, resultBase: primitive ? undefined : at };
}

type Walk = (value: unknown, out: unknown[]) => boolean;

const leaf: Walk = (v, out) => {
  out.push(v);
  return false;
};

/** One member step as a closure over the next: no step objects, no per-step arrays. Returns true to go SLOW. */
function member(name: string, meta: string, next: Walk): Walk {
  return (v, out) => {
    if (typeof v !== 'object' || v === null) return false;
    const o = v as Record<string, unknown>;
    if (o[meta] !== undefined) return true;
    const x = o[name];
    if (x === undefined || x === null) return false;
    if (!Array.isArray(x)) return next(x, out);
    for (let i = 0; i < x.length; i++) {
      const e: unknown = x[i];
      if (e !== null && e !== undefined && next(e, out)) return true;
    }
    return false;
  };
}

/** Runs of member steps become one walk; first() and [n] apply to the whole collection between runs. */
function navigate(steps: readonly Step[]): (node: unknown) => unknown[] | typeof SLOW {
  const stages: Array<Walk | { pick: number }> = [];
  let run: Array<{ name: string; meta: string }> = [];
  const close = (): void => {
    if (run.length === 0) return;
    stages.push(run.reduceRight<Walk>((next, m) => member(m.name, m.meta, next), leaf));
    run = [];
  };
  for (const s of steps) {
    if (s.kind === 'member') {
      run.push(s);
    } else {
      close();
      stages.push({ pick: s.kind === 'first' ? 0 : s.n });
    }
  }
  close();
  const only = stages.length === 1 ? stages[0] : undefined;
  if (typeof only === 'function') {
    return (node) => {
      const out: unknown[] = [];
      return only(node, out) ? SLOW : out;
    };
  }
  return (node) => {
    let cur: unknown[] = node === undefined || node === null ? [] : [node];
    for (const stage of stages) {
      if (typeof stage === 'function') {
        const next: unknown[] = [];
        for (const v of cur) if (stage(v, next)) return SLOW;
        cur = next;
      } else {
        const x = cur[stage.pick];
        cur = x === undefined ? [] : [x];
      }
      if (cur.length === 0) return cur;
    }
    return cur;
  };
}
