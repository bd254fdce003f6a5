import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const FIX = join(ROOT, 'test/fixtures/hl7v2');
const LAB = join(ROOT, '../shared/samples/hl7v2/ms-fhir-converter/messages/LAB-ORU-1.hl7');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/fhirfed.js'), 'hl7', 'to-fhir', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fhirfed hl7 to-fhir', () => {
  it('prints one Bundle per line for a batch file', () => {
    const r = run(join(FIX, 'batch.hl7'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bundles = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { resourceType: string; identifier: { value: string } });
    expect(bundles.map((b) => b.identifier.value)).toEqual(['B1', 'B2']);
    expect(bundles.every((b) => b.resourceType === 'Bundle')).toBe(true);
  });

  it('prints a JSON array with --format array', () => {
    const r = run(join(FIX, 'batch.hl7'), '--format', 'array');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBe(2);
  });

  it.skipIf(!existsSync(LAB))('converts a real ORU sample (skipped when ../shared is absent)', () => {
    const r = run(LAB, '--format', 'pretty');
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout) as { entry: { resource: { resourceType: string } }[] };
    expect(b.entry.filter((e) => e.resource.resourceType === 'Observation')).toHaveLength(10);
  });

  it('exits non-zero naming segment, field and line for unparseable input, without a stack trace', () => {
    const r = run(join(FIX, 'broken-line.hl7'));
    expect(r.code).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/FHIRFED_ERR_HL7_PARSE.*broken-line\.hl7:4 \(sec\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const r2 = run(join(FIX, 'no-msh9.hl7'));
    expect(r2.code).toBe(65);
    expect(r2.stderr).toMatch(/:1 \(MSH-9\): MSH-9 message type is empty/);
  });

  it('refuses a missing file and bad options clearly', () => {
    const r = run(join(FIX, 'does-not-exist.hl7'));
    expect(r.code).toBe(66);
    expect(r.stderr).toMatch(/cannot read .*does-not-exist\.hl7: ENOENT/);
    expect(run(join(FIX, 'batch.hl7'), '--format', 'xml').stderr).toMatch(/unknown --format 'xml'/);
  });
});
