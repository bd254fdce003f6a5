import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/index.js';
import { FhirfedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { createRedis, pingRedis } from '../../src/infra/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function listen(app: ReturnType<typeof createApp>): Promise<{ server: Server; base: string }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function makeApp(redisUrl: string) {
  const { config } = loadConfig({ env: { REDIS_URL: redisUrl, FHIRFED_SERVER_BODY_LIMIT_BYTES: '1000' } });
  const redis = createRedis(config.redis.url, 'probe');
  const router = Router();
  router.get('/boom/typed', () => {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED', 'budget spent', {
      where: { path: 'privacy.epsilon' },
      hint: 'raise the budget',
    });
  });
  router.get('/boom/untyped', () => {
    throw new Error('secret internal detail');
  });
  router.post('/echo', (req, res) => {
    res.json({ got: req.body as unknown });
  });
  const app = createApp({
    config,
    logger: silentLogger,
    checks: [{ name: 'redis', check: () => pingRedis(redis, 1000) }],
    routers: [{ path: '/t', router: Router().use(expressJson(config.server.bodyLimitBytes), router) }],
  });
  return { app, redis };
}

function expressJson(limit: number) {
  return express.json({ limit, type: ['application/json', 'application/fhir+json'] });
}

describe('createApp with Redis up', () => {
  let server: Server;
  let base: string;
  let redis: ReturnType<typeof createRedis>;
  beforeAll(async () => {
    const made = makeApp(REDIS_URL);
    redis = made.redis;
    // Connected before the probe is asked: on a loaded machine the first connect can outlast the check's 1 s answer
    // window, and what this file tests is the probe's logic, not connection latency.
    if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    ({ server, base } = await listen(made.app));
  });
  afterAll(() => {
    server.close();
    server.closeAllConnections();
    redis.disconnect();
  });

  it('/healthz answers 200 with the version', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok' });
  });

  it('/readyz answers 200 when Redis answers', async () => {
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ready', config: 'loaded', checks: { redis: 'ok' } });
  });

  it('/metrics is Prometheus text with request counters', async () => {
    await fetch(`${base}/healthz`);
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toMatch(/^# HELP fhirfed_http_requests_total /m);
    expect(text).toMatch(/^# TYPE fhirfed_http_requests_total counter$/m);
    expect(text).toMatch(/^fhirfed_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m);
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    }
  });

  it('turns a typed error into an OperationOutcome with its status and code', async () => {
    const r = await fetch(`${base}/t/boom/typed`);
    expect(r.status).toBe(409);
    expect(r.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const body = (await r.json()) as { resourceType: string; issue: Record<string, unknown>[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]).toMatchObject({
      severity: 'error',
      code: 'business-rule',
      details: { text: 'budget spent', coding: [{ code: 'FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED' }] },
      expression: ['privacy.epsilon'],
      diagnostics: 'raise the budget',
    });
  });

  it('hides internal error details behind a generic 500 OperationOutcome', async () => {
    const r = await fetch(`${base}/t/boom/untyped`);
    expect(r.status).toBe(500);
    const text = await r.text();
    expect(text).not.toMatch(/secret internal detail/);
    expect(JSON.parse(text)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception' }] });
  });

  it('answers unknown routes with a 404 OperationOutcome', async () => {
    const r = await fetch(`${base}/nope`);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ issue: [{ code: 'not-found' }] });
  });

  it('answers malformed JSON with 400 and oversized bodies with 413', async () => {
    const bad = await fetch(`${base}/t/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ issue: [{ details: { coding: [{ code: 'FHIRFED_ERR_BAD_REQUEST' }] } }] });
    const big = await fetch(`${base}/t/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'y'.repeat(5000) }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ issue: [{ code: 'too-costly' }] });
  });

  it('sets security headers and no x-powered-by', async () => {
    const r = await fetch(`${base}/healthz`);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-powered-by')).toBeNull();
  });
});

describe('createApp with a wrong REDIS_URL', () => {
  it('/readyz answers 503 with the reason, and the process keeps serving', async () => {
    const made = makeApp('redis://127.0.0.1:1');
    const { server, base } = await listen(made.app);
    try {
      const r = await fetch(`${base}/readyz`);
      expect(r.status).toBe(503);
      const body = (await r.json()) as { status: string; checks: { redis: string } };
      expect(body.status).toBe('not-ready');
      expect(body.checks.redis).not.toBe('ok');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      server.close();
      server.closeAllConnections();
      made.redis.disconnect();
    }
  });
});
