import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isFhirfedError } from '../../src/core/errors.js';
import { compileView } from '../../src/harmonize/view/index.js';

/**
 * The SQL on FHIR v2 conformance suite, read as shipped in ../shared/conformance/sql-on-fhir: one test per suite
 * test. Rows compare order-insensitively (as the reference runner does); tests tagged "experimental" run too but
 * only their tally is reported, so they never fail this file.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, '..', 'shared', 'conformance', 'sql-on-fhir');
const present = existsSync(dir);

interface SuiteTest {
  title: string;
  tags?: string[];
  view: unknown;
  expect?: Record<string, unknown>[];
  expectError?: boolean;
  expectCount?: number;
  expectColumns?: string[];
}
interface SuiteFile {
  title: string;
  resources: unknown[];
  tests: SuiteTest[];
}

const files = present
  ? readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'tests.schema.json').sort()
  : [];
const tally = { stable: { pass: 0, total: 0 }, experimental: { pass: 0, total: 0 }, failedExperimental: [] as string[] };

/** Canonical text of a row: keys sorted, so key order does not matter (column order is checked by expectColumns). */
function canonical(row: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k] === undefined ? null : row[k]]));
}

function run(file: SuiteFile, t: SuiteTest, name: string): void {
  if (t.expectError) {
    let error: unknown;
    try {
      const view = compileView(t.view, { source: name });
      for (const r of file.resources) view.evaluate(r);
    } catch (e) {
      error = e;
    }
    expect(error, 'the view should have been rejected').toBeDefined();
    expect(isFhirfedError(error), `a typed error, got: ${String(error)}`).toBe(true);
    return;
  }
  const view = compileView(t.view, { source: name });
  const rows = file.resources.flatMap((r) => view.evaluate(r));
  if (t.expectColumns) expect(view.columns.map((c) => c.name)).toEqual(t.expectColumns);
  if (t.expectCount !== undefined) expect(rows.length).toBe(t.expectCount);
  if (t.expect) expect(rows.map(canonical).sort()).toEqual(t.expect.map(canonical).sort());
}

describe.skipIf(!present)(`sql-on-fhir conformance (${present ? dir : 'suite absent: ../shared/conformance/sql-on-fhir not found'})`, () => {
  for (const f of files) {
    const file = JSON.parse(readFileSync(join(dir, f), 'utf8')) as SuiteFile;
    describe(f, () => {
      for (const t of file.tests) {
        const experimental = t.tags?.includes('experimental') ?? false;
        const name = `${f}: ${t.title}`;
        it(`${experimental ? '[experimental] ' : ''}${t.title}`, () => {
          const bucket = experimental ? tally.experimental : tally.stable;
          bucket.total++;
          if (!experimental) {
            run(file, t, name);
            bucket.pass++;
            return;
          }
          try {
            run(file, t, name);
            bucket.pass++;
          } catch (e) {
            tally.failedExperimental.push(`${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
          }
        });
      }
    });
  }

  afterAll(() => {
    for (const line of tally.failedExperimental) console.log(`experimental failed: ${line}`);
    console.log(`sql-on-fhir conformance: ${tally.stable.pass}/${tally.stable.total} non-experimental passed, ` +
      `experimental ${tally.experimental.pass}/${tally.experimental.total}`);
  });
});

if (!present) {
  it.skip('sql-on-fhir conformance: suite absent (../shared/conformance/sql-on-fhir not found)', () => {});
}
