import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** `fhirfed view` through the real CLI entry point, on real files in a temporary directory. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'fhirfed-view-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}

function fhirfed(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'fhirfed.js'), ...args], { cwd: root, input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const rowsOf = (stdout: string): unknown[] => stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l) as unknown);

const patientView = file('patients.view.json', {
  resourceType: 'ViewDefinition',
  resource: 'Patient',
  select: [{ column: [{ name: 'id', path: 'getResourceKey()' }, { name: 'family', path: 'name.family.first()' }] }],
});
const p1 = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Ng' }] };
const p2 = { resourceType: 'Patient', id: 'p2' };
const obs = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' } };

describe('fhirfed view', () => {
  it('reads NDJSON, a pretty-printed Bundle and a single resource, one row per line', () => {
    const ndjson = file('in.ndjson', [p1, obs, p2].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const bundle = file('bundle.json', { resourceType: 'Bundle', type: 'collection', entry: [{ resource: p2 }, { resource: obs }] });
    const single = file('one.json', p1);
    const r = fhirfed(['view', '--view', patientView, ndjson, bundle, single]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout)).toEqual([
      { id: 'p1', family: 'Ng' }, { id: 'p2', family: null }, { id: 'p2', family: null }, { id: 'p1', family: 'Ng' },
    ]);
  });

  it("reads stdin for '-'", () => {
    const r = fhirfed(['view', '--view', patientView, '-'], `${JSON.stringify(p2)}\n${JSON.stringify(p1)}\n`);
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout)).toEqual([{ id: 'p2', family: null }, { id: 'p1', family: 'Ng' }]);
  });

  it('rejects an invalid view naming the file, the path inside it and why', () => {
    const bad = file('bad.view.json', { resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }, { name: 'x', path: 'name.(' }] }] });
    const r = fhirfed(['view', '--view', bad, file('x.ndjson', JSON.stringify(p1))]);
    expect(r.code).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('FHIRFED_ERR_VIEW_INVALID');
    expect(r.stderr).toContain(`${bad} (select[0].column[1].path)`);
    expect(r.stderr).toContain('invalid FHIRPath');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports a view that is not JSON, and a missing view file', () => {
    const notJson = file('broken.view.json', '{ "resource": ');
    const r = fhirfed(['view', '--view', notJson, '-'], '');
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/broken\.view\.json: the view is not valid JSON/);
    const missing = fhirfed(['view', '--view', join(dir, 'nope.json'), '-'], '');
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain('FHIRFED_ERR_NOT_FOUND');
  });

  it('reports a bad input line as file:line, keeps the other rows and exits 65', () => {
    const input = file('mixed.ndjson', `${JSON.stringify(p1)}\n{"resourceType": "Patient", oops}\n${JSON.stringify(p2)}\n`);
    const r = fhirfed(['view', '--view', patientView, input]);
    expect(r.code).toBe(65);
    expect(rowsOf(r.stdout)).toEqual([{ id: 'p1', family: 'Ng' }, { id: 'p2', family: null }]);
    expect(r.stderr).toContain(`${input}:2: not valid JSON`);
    expect(r.stderr).toContain('1 of 3 input lines could not be evaluated');
  });

  it('reports a FHIRPath failure on one resource with its line and the column path', () => {
    const strict = file('strict.view.json', { resource: 'Patient', select: [{ column: [{ name: 'given', path: 'name.given' }] }] });
    const many = { resourceType: 'Patient', id: 'p3', name: [{ given: ['a', 'b'] }] };
    const input = file('many.ndjson', `${JSON.stringify(p1)}\n${JSON.stringify(many)}\n`);
    const r = fhirfed(['view', '--view', strict, input]);
    expect(r.code).toBe(65);
    expect(rowsOf(r.stdout)).toEqual([{ given: null }]);
    expect(r.stderr).toContain(`${input}:2 (select[0].column[0].path)`);
    expect(r.stderr).toContain("returned 2 values on resource 'p3'");
  });
});
