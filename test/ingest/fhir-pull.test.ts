import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Observation, Patient, Resource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { bulkExport, checkUrl, pullRest, smartTokenProvider } from '../../src/ingest/fhir/index.js';
import { Ledger, countResources, readResources } from '../../src/ingest/ledger/index.js';
import { startFhirServer, type RunningFhirServer } from '../helpers/fhir-server.js';

const patients: Patient[] = Array.from({ length: 23 }, (_, i) => ({ resourceType: 'Patient', id: `pt${i}`, gender: i % 2 ? 'male' : 'female' }));
const observations: Observation[] = Array.from({ length: 7 }, (_, i) => ({
  resourceType: 'Observation',
  id: `obs${i}`,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
  subject: { reference: `Patient/pt${i}` },
  valueQuantity: { value: 90 + i, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
}));

let server: RunningFhirServer;
const dirs: string[] = [];
function freshLedger(): Ledger {
  const d = mkdtempSync(join(tmpdir(), 'fhirfed-pull-'));
  dirs.push(d);
  return Ledger.open({ dataDir: d });
}

beforeAll(async () => {
  server = await startFhirServer({ resources: [...patients, ...observations] });
});
afterAll(async () => {
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function all(ledger: Ledger, types?: string[]): Promise<Resource[]> {
  const out: Resource[] = [];
  for await (const r of readResources(ledger, types ? { types } : {})) out.push(r);
  return out;
}

describe('FHIR REST pull', () => {
  it('follows next links across pages, then pulls only what changed since the checkpoint', async () => {
    const ledger = freshLedger();
    const policy = { baseUrl: server.baseUrl, allowedHosts: [] };
    const first = await pullRest({ ...policy, ledger, logger: silentLogger, resourceTypes: ['Patient', 'Observation'], pageSize: 5 });
    expect(first.byType.Patient?.accepted).toBe(23);
    expect(first.byType.Observation?.accepted).toBe(7);
    expect(first.pages).toBe(5 + 2);
    expect(countResources(ledger)).toEqual({ Observation: 7, Patient: 23 });

    // Change two patients on the server; the next pull asks with _lastUpdated=gt<checkpoint> and gets just those.
    await new Promise((r) => setTimeout(r, 5));
    await server.repo.updateResource({ resourceType: 'Patient', id: 'pt3', gender: 'other' });
    await server.repo.updateResource({ resourceType: 'Patient', id: 'pt20', gender: 'unknown' });
    server.requests.length = 0;
    const second = await pullRest({ ...policy, ledger, logger: silentLogger, resourceTypes: ['Patient'], pageSize: 5 });
    expect(second.byType.Patient?.accepted).toBe(2);
    expect(server.requests.some((r) => r.includes('_lastUpdated=gt'))).toBe(true);
    const pt3 = (await all(ledger, ['Patient'])).find((p) => p.id === 'pt3') as Patient;
    expect(pt3.gender).toBe('other');
    expect(ledger.counts().converted).toBe(32);
  });

  it('refuses a next link that leaves the configured host (SSRF guard)', () => {
    const policy = { baseUrl: 'http://fhir.hospital.local/fhir', allowedHosts: [] };
    expect(checkUrl('http://fhir.hospital.local/fhir/Patient?page=2', policy, 'next').host).toBe('fhir.hospital.local');
    expect(() => checkUrl('http://169.254.169.254/latest/meta-data', policy, 'Bundle.link.next')).toThrowError(
      expect.objectContaining({ code: 'FHIRFED_ERR_FORBIDDEN', message: expect.stringContaining('169.254.169.254') }),
    );
    expect(() => checkUrl('file:///etc/passwd', policy, 'next')).toThrowError(expect.objectContaining({ code: 'FHIRFED_ERR_FORBIDDEN' }));
    expect(checkUrl('https://cdn.hospital.local/x.ndjson', { ...policy, allowedHosts: ['cdn.hospital.local'] }, 'output').href).toContain('cdn');
  });

  it('reports an unreachable server clearly', async () => {
    const ledger = freshLedger();
    await expect(pullRest({ baseUrl: 'http://127.0.0.1:1/fhir', allowedHosts: [], ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_DEPENDENCY_UNAVAILABLE',
    });
  });
});

describe('FHIR Bulk Data export', () => {
  it('kicks off, polls, downloads NDJSON, and exports only changes next time', async () => {
    const ledger = freshLedger();
    const opts = { baseUrl: server.baseUrl, allowedHosts: [], ledger, logger: silentLogger, minPollMs: 10 };
    const s = await bulkExport({ ...opts, resourceTypes: ['Patient', 'Observation'] });
    expect(s).toMatchObject({ files: 2, accepted: 30, dead: 0 });
    expect(server.requests.filter((r) => r.includes('$export-status')).length).toBeGreaterThanOrEqual(2);
    expect(countResources(ledger)).toEqual({ Observation: 7, Patient: 23 });

    await new Promise((r) => setTimeout(r, 5));
    await server.repo.updateResource({ ...observations[0], status: 'amended' } as never);
    const again = await bulkExport({ ...opts, resourceTypes: ['Observation'] });
    expect(again.accepted).toBe(1);
    expect(server.requests.some((r) => r.includes('_since='))).toBe(true);
  });
});

describe('SMART backend services', () => {
  for (const kind of ['rsa', 'ec'] as const) {
    it(`gets a token with a ${kind === 'rsa' ? 'RS384' : 'ES384'} client assertion and pulls with it`, async () => {
      const { privateKey, publicKey } =
        kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const secured = await startFhirServer({ resources: patients.slice(0, 3), smart: { clientId: 'fhirfed-site', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) } });
      try {
        const policy = { baseUrl: secured.baseUrl, allowedHosts: [] };
        const ledger = freshLedger();
        // Without a token the server refuses: the error says what to check.
        await expect(pullRest({ ...policy, ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({ code: 'FHIRFED_ERR_UNAUTHENTICATED' });
        const token = smartTokenProvider({ ...policy, clientId: 'fhirfed-site', privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
        const s = await pullRest({ ...policy, ledger, logger: silentLogger, resourceTypes: ['Patient'], token });
        expect(s.accepted).toBe(3);
        const b = await bulkExport({ ...policy, ledger, logger: silentLogger, resourceTypes: ['Patient'], token, minPollMs: 10 });
        expect(b.files).toBe(1);
        // A key the server does not know is refused.
        const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
        await expect(smartTokenProvider({ ...policy, clientId: 'fhirfed-site', privateKeyPem: other })()).rejects.toMatchObject({ code: 'FHIRFED_ERR_UNAUTHENTICATED' });
      } finally {
        await secured.close();
      }
    });
  }
});

describe('fhirfed ingest pull', () => {
  it('pulls with REST and with --bulk from fhir.baseUrl into the ledger at storage.dataDir', async () => {
    const data = mkdtempSync(join(tmpdir(), 'fhirfed-pull-cli-'));
    dirs.push(data);
    const env = { ...process.env, FHIRFED_FHIR_BASE_URL: server.baseUrl, FHIRFED_STORAGE_DATA_DIR: data, FHIRFED_LOG_LEVEL: 'warn' };
    const run = (args: string[]) => promisify(execFile)(process.execPath, ['bin/fhirfed.js', 'ingest', 'pull', ...args], { env });
    const rest = JSON.parse((await run(['--types', 'Patient'])).stdout) as { accepted: number };
    expect(rest.accepted).toBe(23);
    const bulk = JSON.parse((await run(['--bulk', '--types', 'Observation'])).stdout) as { accepted: number; files: number };
    expect(bulk).toMatchObject({ files: 1, accepted: 7 });
    // Default types (fhir.resourceTypes) on a second run: everything is already there.
    const again = JSON.parse((await run([])).stdout) as { accepted: number; duplicates: number };
    expect(again.accepted).toBe(0);
    const missing = await promisify(execFile)(process.execPath, ['bin/fhirfed.js', 'ingest', 'pull'], { env: { ...env, FHIRFED_FHIR_BASE_URL: '' } }).catch((e: { stderr: string; code: number }) => e);
    expect((missing as { stderr: string }).stderr).toMatch(/fhir\.baseUrl/);
  });
});
