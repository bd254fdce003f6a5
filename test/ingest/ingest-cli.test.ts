import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger, countResources, readResources } from '../../src/ingest/ledger/index.js';
import { adtA01 } from '../helpers/hl7-adt.js';

const BIN = join(process.cwd(), 'bin', 'fhirfed.js');
const BULK = join(process.cwd(), '..', 'shared', 'samples', 'fhir', 'smart-bulk-10pt');
const ORU = join(process.cwd(), '..', 'shared', 'samples', 'hl7v2', 'ms-fhir-converter', 'messages', 'ORU-R01-01.hl7');

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fhirfed-ingest-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fhirfed(args: string[], dataDir: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FHIRFED_STORAGE_DATA_DIR: dataDir, FHIRFED_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withLedger<T>(dataDir: string, fn: (l: Ledger) => T): T {
  const l = Ledger.open({ dataDir, readonly: true });
  try {
    return fn(l);
  } finally {
    l.close();
  }
}

describe('fhirfed ingest', () => {
  it.skipIf(!existsSync(BULK))('loads the smart-bulk-10pt Bulk export folder (needs ../shared/samples/fhir/smart-bulk-10pt; skipped when absent)', () => {
    const data = tmp();
    const r = fhirfed(['ingest', '--json', BULK], data);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { files: number; accepted: number; dead: number; resourceTypes: Record<string, number> };
    // 12 resource files; log.ndjson (the export log) is not data.
    expect(s.files).toBe(12);
    expect(s.dead).toBe(0);
    expect(s.resourceTypes.Patient).toBe(13);
    expect(s.accepted).toBe(5945);
    expect(withLedger(data, (l) => countResources(l))).toMatchObject({ Patient: 13, Encounter: 1215, Procedure: 2056 });
    // Running it again stores nothing new.
    const again = JSON.parse(fhirfed(['ingest', '--json', BULK], data).stdout) as { accepted: number; duplicates: number };
    expect(again).toMatchObject({ accepted: 0, duplicates: 5945 });
  });

  it('loads an HL7v2 file with several messages; a broken one becomes a dead letter naming file and line', async () => {
    const data = tmp();
    const file = join(tmp(), 'feed.hl7');
    const broken = adtA01('M3').replace('PV1|1|I', 'P@1|1|I');
    writeFileSync(file, [adtA01('M1', 'PAT-A'), adtA01('M2', 'PAT-B'), broken].join('\n\n'));
    const r = fhirfed(['ingest', file], data);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 accepted, 0 duplicate\(s\), 1 dead letter/);
    expect(r.stdout).toMatch(/FHIRFED_ERR_HL7_PARSE/);
    expect(r.stdout).toContain(`${file}:14`);
    const ids: string[] = [];
    await withLedger(data, async (l) => {
      for await (const p of readResources(l, { types: ['Patient'] })) ids.push((p as Patient).identifier?.[0]?.value ?? '');
    });
    expect(ids.sort()).toEqual(['PAT-A', 'PAT-B']);
    // --strict turns dead letters into a non-zero exit.
    const strict = fhirfed(['ingest', '--strict', file], data);
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toMatch(/FHIRFED_ERR_VALIDATION/);
  });

  it.skipIf(!existsSync(ORU))('converts a sample ORU^R01 file into Observations (needs ../shared/samples/hl7v2; skipped when absent)', () => {
    const data = tmp();
    const r = fhirfed(['ingest', '--json', ORU], data);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { accepted: number; resourceTypes: Record<string, number> };
    expect(s.accepted).toBe(1);
    expect(s.resourceTypes.Observation).toBeGreaterThan(0);
    expect(s.resourceTypes.Patient).toBe(1);
  });

  it('keeps bad NDJSON lines as dead letters and replays them on request', () => {
    const data = tmp();
    const dir = join(tmp(), 'export');
    mkdirSync(dir);
    writeFileSync(join(dir, 'Patient.000.ndjson'), `${JSON.stringify({ resourceType: 'Patient', id: 'n1' })}\n{"resourceType": "Patient", \n${JSON.stringify({ resourceType: 'Patient', id: 'bad id' })}\n`);
    writeFileSync(join(dir, 'unsupported.hl7'), adtA01('U1').replace('ADT^A01^ADT_A01', 'ADT^A09'));
    const r = fhirfed(['ingest', dir], data);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 accepted, 0 duplicate\(s\), 3 dead letter/);
    expect(r.stdout).toContain('Patient.000.ndjson:2');
    expect(r.stdout).toContain('Patient.000.ndjson:3');
    expect(r.stdout).toMatch(/unsupported\.hl7:1 \(MSH-9\)/);
    const replay = fhirfed(['ingest', 'replay', '--kind', 'hl7v2'], data);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed 1 dead letter\(s\): 0 converted, 1 still dead/);
    expect(replay.stdout).toMatch(/ADT\^A09/);
    expect(withLedger(data, (l) => l.deadLetters().map((d) => d.attempts).sort())).toEqual([1, 1, 2]);
    const bad = fhirfed(['ingest', 'replay', '--kind', 'csv'], data);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown --kind/);
  });

  it('names a missing input without a stack trace', () => {
    const r = fhirfed(['ingest', '/nonexistent/feed.hl7'], tmp());
    expect(r.code).toBe(66);
    expect(r.stderr).toMatch(/input \/nonexistent\/feed\.hl7 not found/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
