import { randomUUID } from 'node:crypto';
import express, { Router } from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/api/error-handler.js';
import { silentLogger } from '../../src/core/logger.js';
import { jsonWithRawBody, MemoryNonceStore, OperatorTokens, RedisNonceStore, requireAuth, requireSite, type NonceStore } from '../../src/federation/auth.js';
import { signedJson } from '../../src/federation/http.js';
import { HEADER_SIGNATURE, HEADER_TIMESTAMP, signRequest } from '../../src/federation/signing.js';
import { listen, makeSites, REDIS_URL } from './fixtures.js';

const [alice, mallory] = makeSites(['alice', 'mallory']);
const OPERATOR = 'operator-token-0123456789abcdef';
let hits = 0;

function app(nonces: NonceStore) {
  const a = express();
  a.use(jsonWithRawBody(1 << 20));
  a.use(
    requireAuth({
      resolveKey: (s) => (s === 'alice' ? alice?.keys.publicKey : undefined),
      nonces,
      operatorTokens: new OperatorTokens([{ token: OPERATOR, scopes: ['status'] }]),
    }),
  );
  const r = Router();
  r.post('/v1/echo', (req, res) => {
    hits++;
    res.json({ site: requireSite(res, (req.body as { site?: string }).site), body: req.body as unknown });
  });
  r.get('/v1/who', (_req, res) => {
    hits++;
    res.json(res.locals.principal);
  });
  a.use(r);
  a.use(errorHandler(silentLogger));
  return a;
}

async function raw(base: string, path: string, init: { method: string; headers: Record<string, string>; body?: string }) {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function signed(path: string, body: string, opts: { site?: string; key?: Uint8Array; now?: number } = {}): Record<string, string> {
  return {
    ...signRequest({ site: opts.site ?? 'alice', secretKey: opts.key ?? (alice?.keys.secretKey as Uint8Array), method: 'POST', path, body: Buffer.from(body), ...(opts.now ? { now: opts.now } : {}) }),
    'content-type': 'application/json',
  };
}

const outcomeText = (b: Record<string, unknown>): string => ((b.issue as { details: { text: string } }[])[0]?.details.text ?? '');

describe.each([
  ['memory nonces', () => ({ store: new MemoryNonceStore() as NonceStore, done: async () => undefined })],
  [
    'redis nonces',
    () => {
      const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
      const prefix = `fhirfed-test-${randomUUID().slice(0, 8)}`;
      return {
        store: new RedisNonceStore(redis, prefix) as NonceStore,
        done: async () => {
          const keys = await redis.keys(`${prefix}:*`);
          if (keys.length > 0) await redis.del(...keys);
          await redis.quit();
        },
      };
    },
  ],
])('signed requests (%s)', (_name, makeStore) => {
  let base = '';
  let close: () => Promise<void> = async () => undefined;
  let done: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const s = makeStore();
    done = s.done;
    const l = await listen(app(s.store));
    base = l.base;
    close = l.close;
  });
  afterAll(async () => {
    await close();
    await done();
  });

  it('accepts a correctly signed request (through the retrying client too)', async () => {
    const body = JSON.stringify({ site: 'alice', x: 1 });
    const r = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body), body });
    expect(r.status).toBe(200);
    expect(r.body.site).toBe('alice');
    const viaClient = await signedJson<{ kind: string; site: string }>({ baseUrl: base, signer: { site: 'alice', secretKey: alice?.keys.secretKey as Uint8Array }, method: 'GET', path: 'v1/who?x=1', what: 'test' });
    expect(viaClient.body).toEqual({ kind: 'site', site: 'alice' });
  });

  it('rejects a replayed request (same nonce) with 401 and does not run the handler', async () => {
    const body = JSON.stringify({ site: 'alice' });
    const headers = signed('/v1/echo', body);
    expect((await raw(base, '/v1/echo', { method: 'POST', headers, body })).status).toBe(200);
    const before = hits;
    const again = await raw(base, '/v1/echo', { method: 'POST', headers, body });
    expect(again.status).toBe(401);
    expect(outcomeText(again.body)).toMatch(/replayed/);
    expect(hits).toBe(before);
  });

  it('rejects a tampered body, a wrong key, an unknown site and a stale timestamp', async () => {
    const before = hits;
    const body = JSON.stringify({ site: 'alice', amount: 1 });
    const tampered = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body), body: JSON.stringify({ site: 'alice', amount: 2 }) });
    expect(tampered.status).toBe(401);
    expect(outcomeText(tampered.body)).toMatch(/bad signature/);
    const wrongKey = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body, { key: mallory?.keys.secretKey as Uint8Array }), body });
    expect(wrongKey.status).toBe(401);
    const unknown = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body, { site: 'mallory', key: mallory?.keys.secretKey as Uint8Array }), body });
    expect(unknown.status).toBe(401);
    expect(outcomeText(unknown.body)).toMatch(/not registered/);
    const stale = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body, { now: Date.now() - 6 * 60 * 1000 }), body });
    expect(stale.status).toBe(401);
    expect(outcomeText(stale.body)).toMatch(/timestamp/);
    const future = signed('/v1/echo', body, { now: Date.now() + 6 * 60 * 1000 });
    expect((await raw(base, '/v1/echo', { method: 'POST', headers: future, body })).status).toBe(401);
    // a timestamp edited after signing breaks the signature
    const edited = { ...signed('/v1/echo', body), [HEADER_TIMESTAMP]: String(Date.now() - 1000) };
    expect((await raw(base, '/v1/echo', { method: 'POST', headers: edited, body })).status).toBe(401);
    const noSig = await raw(base, '/v1/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(noSig.status).toBe(401);
    const garbage = { ...signed('/v1/echo', body), [HEADER_SIGNATURE]: 'AAAA' };
    expect((await raw(base, '/v1/echo', { method: 'POST', headers: garbage, body })).status).toBe(401);
    expect(hits).toBe(before);
  });

  it('a site cannot speak in the name of another site (403)', async () => {
    const body = JSON.stringify({ site: 'bob' });
    const r = await raw(base, '/v1/echo', { method: 'POST', headers: signed('/v1/echo', body), body });
    expect(r.status).toBe(403);
  });

  it('operator bearer tokens: valid accepted, invalid 401', async () => {
    const ok = await raw(base, '/v1/who', { method: 'GET', headers: { authorization: `Bearer ${OPERATOR}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.kind).toBe('operator');
    const bad = await raw(base, '/v1/who', { method: 'GET', headers: { authorization: 'Bearer nope-nope-nope-nope-nope' } });
    expect(bad.status).toBe(401);
  });
});
