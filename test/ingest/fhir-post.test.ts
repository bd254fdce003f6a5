import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { fhirIngestRouter } from '../../src/api/routes/fhir-ingest.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { Ledger, countResources } from '../../src/ingest/ledger/index.js';

let dir: string;
let ledger: Ledger;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-post-'));
  ledger = Ledger.open({ dataDir: dir });
  const config = configSchema.parse({ storage: { dataDir: dir }, server: { bodyLimitBytes: 20_000 } });
  const app = createApp({ config, logger: silentLogger, routers: [{ path: '/fhir', router: fhirIngestRouter({ config, ledger, logger: silentLogger }) }] });
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

function post(path: string, body: unknown, type = 'application/fhir+json'): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const texts = (oo: OperationOutcome): string[] => oo.issue.map((i) => i.details?.text ?? '');

describe('POST /fhir', () => {
  it('stores a Bundle (201), and answers 200 when it is sent again', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', id: 'a1', meta: { versionId: '1' } } },
        { resource: { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/a1' } } as never },
      ],
    };
    const r1 = await post('/fhir', bundle);
    expect(r1.status).toBe(201);
    expect(texts((await r1.json()) as OperationOutcome)).toContain('accepted 2, duplicates 0');
    const r2 = await post('/fhir', bundle);
    expect(r2.status).toBe(200);
    expect(texts((await r2.json()) as OperationOutcome)).toContain('accepted 0, duplicates 2');
    expect(countResources(ledger)).toMatchObject({ Patient: 1, Condition: 1 });
  });

  it('stores a single resource, also at /fhir/:type', async () => {
    expect((await post('/fhir', { resourceType: 'Patient', id: 'solo' })).status).toBe(201);
    expect((await post('/fhir/Observation', { resourceType: 'Observation', id: 'o1', status: 'final', code: {} }, 'application/json')).status).toBe(201);
    const wrong = await post('/fhir/Observation', { resourceType: 'Patient', id: 'x' });
    expect(wrong.status).toBe(400);
  });

  it('refuses a Bundle with an invalid entry as a whole (422) and says which entry', async () => {
    const before = ledger.counts().converted;
    const r = await post('/fhir', { resourceType: 'Bundle', type: 'batch', entry: [{ resource: { resourceType: 'Patient', id: 'ok1' } }, { resource: { resourceType: 'Patient', id: 'bad id!' } }] });
    expect(r.status).toBe(422);
    const oo = (await r.json()) as OperationOutcome;
    expect(JSON.stringify(oo)).toContain('Bundle.entry[1].resource');
    expect(JSON.stringify(oo)).toContain('Patient.id');
    expect(ledger.counts().converted).toBe(before);
  });

  it('answers bad bodies with an OperationOutcome, not a crash', async () => {
    const notJson = await post('/fhir', '{"resourceType": ', 'application/fhir+json');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect((await post('/fhir', 'hello', 'text/plain')).status).toBe(415);
    expect((await post('/fhir', [{ resourceType: 'Patient' }])).status).toBe(400);
    expect((await post('/fhir', { resourceType: 'Patient', id: 'big', text: { div: 'x'.repeat(30_000) } })).status).toBe(413);
    expect((await post('/fhir', { resourceType: 'Bundle', type: 'batch', entry: [] })).status).toBe(400);
  });

  it('answers 503 when the ledger cannot store (disk full)', async () => {
    ledger.db.pragma(`max_page_count = ${ledger.db.pragma('page_count', { simple: true }) as number}`);
    try {
      const entry = Array.from({ length: 20 }, (_, i) => ({ resource: { resourceType: 'Patient', id: `full${i}`, text: { status: 'generated', div: 'y'.repeat(800) } } }));
      const r = await post('/fhir', { resourceType: 'Bundle', type: 'batch', entry });
      expect(r.status).toBe(503);
      expect(JSON.stringify(await r.json())).toContain('FHIRFED_ERR_LEDGER');
    } finally {
      ledger.db.pragma('max_page_count = 1073741823');
    }
  });
});
