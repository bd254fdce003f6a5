import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { ErrorCode, ErrorDetail } from '../core/errors.js';
import { FhirfedError } from '../core/errors.js';

/**
 * Mapping files are checked before any data is seen and every problem is reported at once, each naming file, line
 * and field. This module keeps the YAML node tree (with a LineCounter) next to the plain data so a zod issue path or
 * a loader's own finding can be turned back into a line number.
 */

export type PathSegment = string | number;

/** One problem in a mapping file. `path` is the dotted field path (`features.glucose.transformers[1].params`). */
export interface Problem {
  readonly code: ErrorCode;
  readonly file: string;
  readonly line?: number;
  readonly path?: string;
  readonly message: string;
}

export interface SourceFile {
  readonly file: string;
  readonly data: unknown;
  /** Line (1-based) of the deepest node along `path` that exists; undefined when the file has no position data. */
  lineOf(path: readonly PathSegment[]): number | undefined;
}

export function formatPath(path: readonly PathSegment[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}

/** Reads a YAML (or JSON, which is YAML) file; syntax errors become problems with their line. */
export function readSource(file: string, displayName = file): { source?: SourceFile; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    return { problems: [{ code: 'FHIRFED_ERR_MAPPING_INVALID', file: displayName, message: reason }] };
  }
  return parseSource(text, displayName);
}

export function parseSource(text: string, file: string): { source?: SourceFile; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((err) => ({
        code: 'FHIRFED_ERR_MAPPING_INVALID' as const,
        file,
        line: lineCounter.linePos(err.pos[0]).line,
        message: `YAML syntax error: ${firstLine(err.message)}`,
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // yaml refuses alias bombs ("billion laughs") here, after parsing succeeded: a problem, not a crash.
    return { problems: [{ code: 'FHIRFED_ERR_MAPPING_INVALID', file, line: 1, message: `YAML cannot be expanded: ${firstLine((e as Error).message)} (aliases are limited to 100 uses)` }] };
  }
  return { source: { file, data, lineOf: (path) => lineOf(doc, lineCounter, path) }, problems: [] };
}

/** A source for data that did not come from a file with positions (tests, programmatic use). */
export function plainSource(file: string, data: unknown): SourceFile {
  return { file, data, lineOf: () => undefined };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function lineOf(doc: Document, lc: LineCounter, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let best: number | undefined = startLine(node, lc);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      best = startLine(pair.key, lc) ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) break;
      best = startLine(node, lc) ?? best;
    } else break;
  }
  return best;
}

function startLine(node: unknown, lc: LineCounter): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? lc.linePos(range[0]).line : undefined;
}

/** Turns zod issues into problems, each with the line of the offending field. */
export function zodProblems(
  error: z.ZodError,
  source: SourceFile,
  base: readonly PathSegment[] = [],
  code: ErrorCode = 'FHIRFED_ERR_MAPPING_INVALID',
): Problem[] {
  return error.issues.map((issue) => {
    const path = [...base, ...(issue.path as PathSegment[])];
    const keys = issue.code === 'unrecognized_keys' ? ` (${(issue as { keys: string[] }).keys.join(', ')})` : '';
    return problem(code, source, path, `${issue.message}${keys}`);
  });
}

export function problem(code: ErrorCode, source: SourceFile, path: readonly PathSegment[], message: string): Problem {
  const line = source.lineOf(path);
  const p = formatPath(path);
  return { code, file: source.file, ...(line !== undefined ? { line } : {}), ...(p ? { path: p } : {}), message };
}

/** `file:line field: reason`, the form the CLI prints. */
export function formatProblem(p: Problem): string {
  const where = `${p.file}${p.line !== undefined ? `:${p.line}` : ''}`;
  return `${where}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
}

/** One error carrying every problem; its code is the first problem's so exit codes stay meaningful. */
export function problemsError(problems: readonly Problem[], what: string): FhirfedError {
  const details: ErrorDetail[] = problems.map((p) => ({
    file: p.file,
    ...(p.line !== undefined ? { line: p.line } : {}),
    ...(p.path ? { path: p.path } : {}),
    message: p.message,
  }));
  const first = problems[0];
  return new FhirfedError(first?.code ?? 'FHIRFED_ERR_MAPPING_INVALID', `${problems.length} problem(s) in ${what}`, {
    details,
    hint: 'fix each listed field (file:line) and run `fhirfed mappings validate` again',
  });
}
