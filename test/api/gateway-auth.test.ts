import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { untilReady } from '../helpers/ready.js';

const INGEST = 'ingest-token-0123456789abcdef';
const STATUS_ONLY = 'status-token-0123456789abcdef';
const patient = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1960-01-01' };

describe('the real gateway: what needs authentication', () => {
  let gw: RunningGateway;
  let base: string;
  let dataDir: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-gw-auth-'));
    writeFileSync(join(dir, 'tokens'), `${INGEST} ingest\n${STATUS_ONLY} status\n`);
    writeFileSync(join(dir, 'site-secret'), 'a-test-secret-0123456789\n');
    const { config } = loadConfig({
      env: {
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        FHIRFED_SITE_ID: 'hospital-a',
        FHIRFED_SITE_SECRET_FILE: join(dir, 'site-secret'),
        FHIRFED_STORAGE_DATA_DIR: (dataDir = join(dir, 'data')),
        FHIRFED_SERVER_HOST: '127.0.0.1',
        FHIRFED_SERVER_PORT: '0',
        FHIRFED_REDIS_KEY_PREFIX: `fhirfed-test-${process.pid}`,
        FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(dir, 'tokens'),
      },
    });
    gw = await startGateway(config, silentLogger, { api: true, worker: false });
    base = `http://127.0.0.1:${gw.port}`;
    await untilReady(base);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('leaves only /healthz and /readyz open among the probes and data endpoints', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/status`)).status).toBe(401);
    const post = await fetch(`${base}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(patient) });
    expect(post.status).toBe(401);
    expect(await post.json()).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('POST /fhir needs the ingest scope', async () => {
    const wrong = await fetch(`${base}/fhir`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${STATUS_ONLY}` },
      body: JSON.stringify(patient),
    });
    expect(wrong.status).toBe(403);
    const ok = await fetch(`${base}/fhir`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${INGEST}` },
      body: JSON.stringify(patient),
    });
    expect(ok.status).toBe(201);
  });

  it('GET /status answers an operator token with PHI-free sections only', async () => {
    const r = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${STATUS_ONLY}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'status', site: 'hospital-a' });
    expect(JSON.stringify(body)).not.toContain('p1');
    expect(JSON.stringify(body)).not.toContain('1960-01-01');
  });

  it('keeps an append-only audit log of who accessed what, and of refused attempts, without contents', async () => {
    await fetch(`${base}/status`, { headers: { authorization: `Bearer ${STATUS_ONLY}` } });
    await fetch(`${base}/status?patient=p1`);
    await new Promise((r) => setTimeout(r, 100));
    const lines = readFileSync(join(dataDir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((e) => e.method === 'POST' && e.path === '/fhir' && e.status === 201 && /^operator:[0-9a-f]{12}$/.test(String(e.who)))).toBe(true);
    expect(lines.some((e) => e.path === '/status' && e.status === 401 && e.who === 'anonymous')).toBe(true);
    expect(lines.some((e) => e.path === '/status' && e.status === 200)).toBe(true);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('1960-01-01');
    expect(text).not.toContain('patient=p1');
    expect(text).not.toContain(INGEST);
    expect(lines.every((e) => e.path !== '/healthz')).toBe(true);
  });
});
