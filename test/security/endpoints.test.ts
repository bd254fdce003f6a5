import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { startGateway, type RunningGateway } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { aggregatorConfig, makeSites, REDIS_URL } from '../federation/fixtures.js';
import { concretePath, routesOf, type RouteEntry } from '../helpers/drills/routes.js';
import { untilReady } from '../helpers/ready.js';

/**
 * Every HTTP endpoint of the gateway and of the aggregator, found by walking their express router stacks, refuses
 * an unauthenticated caller; only the probes (and the console's login form, which is how one authenticates) are
 * open. Every response, refusals included, carries the security headers. Bodies over the limit get 413, floods 429.
 */

const METRICS = 'metrics-token-0123456789abcdef';
const INGEST = 'ingest-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdefgh';
const BODY_LIMIT = 4096;

const PUBLIC = new Set(['GET /healthz', 'GET /readyz', 'GET /console/login', 'POST /console/login']);

const dir = mkdtempSync(join(tmpdir(), 'fhirfed-sec-'));
writeFileSync(join(dir, 'tokens'), `${METRICS} metrics\n${INGEST} ingest\n${ADMIN} admin\n`);
writeFileSync(join(dir, 'site-secret'), 'a-test-secret-0123456789\n');

function gatewayConfig(name: string, extra: Record<string, string> = {}) {
  return loadConfig({
    env: {
      REDIS_URL,
      FHIRFED_SITE_ID: 'hospital-a',
      FHIRFED_SITE_SECRET_FILE: join(dir, 'site-secret'),
      FHIRFED_STORAGE_DATA_DIR: join(dir, name),
      FHIRFED_SERVER_HOST: '127.0.0.1',
      FHIRFED_SERVER_PORT: '0',
      FHIRFED_SERVER_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      FHIRFED_REDIS_KEY_PREFIX: `fhirfed-sec-${process.pid}-${name}`,
      FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(dir, 'tokens'),
      ...extra,
    },
  }).config;
}

function expectSecurityHeaders(res: Response, what: string): void {
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('x-frame-options'), what).toBe('DENY');
  expect(res.headers.get('content-security-policy'), what).toMatch(/frame-ancestors 'none'/);
  expect(res.headers.get('cache-control'), what).toBe('no-store');
  expect(res.headers.get('x-powered-by'), what).toBeNull();
}

/** An unauthenticated request to a route; a body is sent for methods that take one. */
async function anonymous(base: string, r: RouteEntry, headers: Record<string, string> = {}): Promise<Response> {
  const hasBody = r.method !== 'GET' && r.method !== 'HEAD' && r.method !== 'DELETE';
  return fetch(`${base}${concretePath(r.path)}`, {
    method: r.method,
    redirect: 'manual',
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(hasBody ? { body: '{}' } : {}),
  });
}

/** 401/403, or the console's redirect of a page load to its login form. */
function refused(res: Response): boolean {
  if (res.status === 401 || res.status === 403) return true;
  return res.status === 303 && /\/console\/login$/.test(res.headers.get('location') ?? '');
}

let gw: RunningGateway;
let limited: RunningGateway;
let agg: RunningAggregator;
let gwBase: string;
let aggBase: string;

beforeAll(async () => {
  gw = await startGateway(gatewayConfig('main'), silentLogger, { api: true, worker: false });
  gwBase = `http://127.0.0.1:${gw.port}`;
  await untilReady(gwBase);
  limited = await startGateway(
    gatewayConfig('limited', { FHIRFED_SERVER_RATE_LIMIT_PER_SECOND: '0.5', FHIRFED_SERVER_RATE_LIMIT_BURST: '3' }),
    silentLogger,
    { api: true, worker: false },
  );
  const sites = makeSites(['site-a', 'site-b']);
  agg = await startAggregator(
    aggregatorConfig(join(dir, 'agg'), sites, {}, { operatorTokensFile: join(dir, 'tokens'), server: { host: '127.0.0.1', port: 0, bodyLimitBytes: BODY_LIMIT, rateLimitPerSecond: 0.5, rateLimitBurst: 40 } }),
    silentLogger,
  );
  aggBase = `http://127.0.0.1:${agg.port}`;
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await limited?.close();
  await agg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication on every endpoint', () => {
  it('the gateway: every route but the probes and the console login refuses anonymous and bad-token callers', async () => {
    const routes = routesOf(gw.server);
    // The walk must see the real surface, or this test proves nothing.
    for (const must of ['GET /metrics', 'GET /status', 'POST /fhir', 'GET /console/workbench']) expect(routes.map((r) => `${r.method} ${r.path}`)).toContain(must);
    expect(routes.length).toBeGreaterThan(10);
    const open: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      if (PUBLIC.has(key)) continue;
      const res = await anonymous(gwBase, r);
      expectSecurityHeaders(res, key);
      if (!refused(res)) open.push(`${key} -> ${res.status}`);
      const bad = await anonymous(gwBase, r, { authorization: 'Bearer not-a-real-token-0123456789' });
      if (!refused(bad)) open.push(`${key} (bad token) -> ${bad.status}`);
    }
    expect(open).toEqual([]);
  });

  it('the aggregator: every route but /healthz and the console login refuses anonymous callers', async () => {
    const routes = routesOf(agg.server);
    for (const must of ['POST /v1/updates', 'GET /v1/rounds/current', 'GET /metrics', 'POST /v1/admin/sites']) expect(routes.map((r) => `${r.method} ${r.path}`)).toContain(must);
    const open: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      if (PUBLIC.has(key)) continue;
      const res = await anonymous(aggBase, r);
      expectSecurityHeaders(res, key);
      if (!refused(res)) open.push(`${key} -> ${res.status}`);
    }
    expect(open).toEqual([]);
    expect((await fetch(`${aggBase}/healthz`)).status).toBe(200);
  });

  it('gateway /metrics needs an operator token with scope metrics', async () => {
    expect((await fetch(`${gwBase}/metrics`)).status).toBe(401);
    expect((await fetch(`${gwBase}/metrics`, { headers: { authorization: `Bearer ${INGEST}` } })).status).toBe(403);
    const ok = await fetch(`${gwBase}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('fhirfed_http_requests_total');
  });

  it('probes stay open and carry the security headers too', async () => {
    for (const p of ['/healthz', '/readyz']) {
      const res = await fetch(`${gwBase}${p}`);
      expect(res.status).toBe(200);
      expectSecurityHeaders(res, p);
    }
    const missing = await fetch(`${gwBase}/no-such-route`);
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing, '404');
  });
});

describe('body size limits', () => {
  const big = JSON.stringify({ resourceType: 'Patient', id: 'p1', text: { div: 'x'.repeat(BODY_LIMIT * 2) } });

  it('the gateway answers 413 with an OperationOutcome for a body over server.bodyLimitBytes', async () => {
    const res = await fetch(`${gwBase}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${INGEST}` }, body: big });
    expect(res.status).toBe(413);
    expectSecurityHeaders(res, 'gateway 413');
    const body = (await res.json()) as { resourceType: string; issue: { details: { text: string } }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.details.text).toMatch(/larger than the limit of 4096 bytes/);
  });

  it('the aggregator answers 413 before it even checks the signature', async () => {
    const res = await fetch(`${aggBase}/v1/updates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(res.status).toBe(413);
    expectSecurityHeaders(res, 'aggregator 413');
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});

describe('rate limits', () => {
  async function hammer(base: string, path: string, n: number): Promise<Response[]> {
    const out: Response[] = [];
    for (let i = 0; i < n; i++) out.push(await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${METRICS}` } }));
    return out;
  }

  it('the gateway throttles a client past its burst with 429, Retry-After and an OperationOutcome; probes are exempt', async () => {
    const base = `http://127.0.0.1:${limited.port}`;
    const res = await hammer(base, '/metrics', 8);
    const statuses = res.map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    const throttled = res.find((r) => r.status === 429) as Response;
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectSecurityHeaders(throttled, '429');
    const body = (await throttled.json()) as { resourceType: string; issue: { code: string; details: { coding: { code: string }[] } }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.code).toBe('throttled');
    expect(body.issue[0]?.details.coding[0]?.code).toBe('FHIRFED_ERR_RATE_LIMITED');
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('the aggregator throttles before authentication (anonymous floods cannot burn CPU on signatures)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await fetch(`${aggBase}/v1/rounds/current`)).status);
    expect(statuses[0]).toBe(401);
    expect(statuses).toContain(429);
  });
});
