import { accessSync, constants, createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { FhirfedError, formatError } from '../../core/errors.js';
import { compileView, type CompiledView } from '../../harmonize/view/index.js';
import { action } from '../run.js';

/**
 * `fhirfed view --view V.json FILE...`: evaluates a SQL on FHIR v2 ViewDefinition, one JSON row per line on stdout.
 * Each FILE (or `-` for stdin) is NDJSON, a Bundle, or a single resource, detected from its content: when the first
 * non-blank line is a whole JSON value the file is read line by line (a Bundle line contributes its entries),
 * otherwise the whole file is one JSON document. A bad line (invalid JSON, or a FHIRPath failure on that resource) is
 * reported on stderr as `file:line` and skipped; after all input the command exits 65 if any line was bad.
 */
export function register(program: Command): void {
  program
    .command('view')
    .description('evaluate a SQL on FHIR v2 ViewDefinition over NDJSON, Bundle or resource files; one JSON row per line')
    .requiredOption('--view <file>', 'ViewDefinition JSON file')
    .argument('<files...>', "input files (NDJSON, Bundle or resource JSON; '-' reads stdin)")
    .action(action(async (files: string[], opts: { view: string }) => {
      const view = loadView(opts.view);
      // `fhirfed view ... | head` closes stdout early: that is the reader's choice, not an error.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw e;
      });
      const out = new Output();
      const stats = { bad: 0, items: 0 };
      for (const file of files) await evaluateFile(view, file, out, stats);
      await out.flush();
      if (stats.bad > 0) {
        throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `${stats.bad} of ${stats.items} input lines could not be evaluated (reported above)`, {
          hint: 'fix or remove the reported lines; the rows of all other lines were written',
        });
      }
    }));
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FhirfedError(code === 'ENOENT' ? 'FHIRFED_ERR_NOT_FOUND' : 'FHIRFED_ERR_BAD_REQUEST', `cannot read ${what}: ${(e as Error).message}`, {
      where: { file },
    });
  }
}

function checkReadable(file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FhirfedError(code === 'ENOENT' ? 'FHIRFED_ERR_NOT_FOUND' : 'FHIRFED_ERR_BAD_REQUEST', `cannot read the input: ${(e as Error).message}`, {
      where: { file },
    });
  }
}

function loadView(file: string): CompiledView {
  const text = readText(file, 'the view');
  let def: unknown;
  try {
    def = JSON.parse(text);
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_VIEW_INVALID', `the view is not valid JSON: ${(e as Error).message}`, {
      where: { file },
      hint: 'a ViewDefinition is one JSON object',
    });
  }
  return compileView(def, { source: file });
}

/** Buffers rows and respects stdout back-pressure, so a large export does not pile up in memory. */
class Output {
  private buf = '';

  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length > 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

interface Stats {
  bad: number;
  items: number;
}

function resourcesOf(value: unknown): unknown[] {
  const v = value as { resourceType?: unknown; entry?: unknown };
  if (v && v.resourceType === 'Bundle' && Array.isArray(v.entry)) {
    return v.entry.map((e) => (e as { resource?: unknown } | null)?.resource).filter((r) => r !== undefined);
  }
  return [value];
}

async function emit(view: CompiledView, value: unknown, out: Output): Promise<void> {
  for (const r of resourcesOf(value)) {
    for (const row of view.evaluate(r)) await out.write(`${JSON.stringify(row)}\n`);
  }
}

function report(stats: Stats, e: unknown): void {
  stats.bad++;
  process.stderr.write(`${formatError(e)}\n`);
}

async function evaluateFile(view: CompiledView, file: string, out: Output, stats: Stats): Promise<void> {
  const name = file === '-' ? '<stdin>' : file;
  let input: Readable;
  if (file === '-') {
    input = process.stdin;
  } else {
    checkReadable(file); // a clear error for a missing file before streaming
    input = createReadStream(file, { encoding: 'utf8' });
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  let document: string[] | undefined; // set when the file is one multi-line JSON document
  let firstSeen = false;
  for await (const line of lines) {
    lineNo++;
    if (document) {
      document.push(line);
      continue;
    }
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      if (!firstSeen) {
        document = [line];
        continue;
      }
      stats.items++;
      report(stats, new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `not valid JSON: ${(e as Error).message}`, { where: { file: name, line: lineNo } }));
      continue;
    }
    firstSeen = true;
    stats.items++;
    try {
      await emit(view, value, out);
    } catch (e) {
      report(stats, withLine(e, name, lineNo));
    }
  }
  if (document) {
    stats.items++;
    let value: unknown;
    try {
      value = JSON.parse(document.join('\n'));
    } catch (e) {
      report(stats, new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `not valid JSON or NDJSON: ${(e as Error).message}`, { where: { file: name } }));
      return;
    }
    try {
      await emit(view, value, out);
    } catch (e) {
      report(stats, withLine(e, name, undefined));
    }
  }
}

/** Adds the input position to a runtime error, keeping the view path it names. */
function withLine(e: unknown, file: string, line: number | undefined): unknown {
  if (!(e instanceof FhirfedError)) return e;
  return new FhirfedError(e.code, e.message, {
    where: { file, ...(line === undefined ? {} : { line }), ...(e.where?.path ? { path: e.where.path } : {}) },
    hint: e.hint,
    cause: e,
  });
}
