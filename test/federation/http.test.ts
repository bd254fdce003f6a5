import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, RemoteError, signedJson } from '../../src/federation/http.js';
import { generateKeyPair } from '../../src/federation/signing.js';
import { listen } from './fixtures.js';

const keys = generateKeyPair();
const signer = { site: 'site-a', secretKey: keys.secretKey };
let calls: Record<string, string[]> = {};
let srv: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  const app = express();
  app.use((req, _res, next) => {
    (calls[req.path] ??= []).push(String(req.headers['x-fhirfed-nonce']));
    next();
  });
  app.get('/flaky', (req, res) => {
    if ((calls[req.path]?.length ?? 0) < 3) res.status(503).json({ issue: [{ details: { text: 'warming up' } }] });
    else res.json({ ok: true });
  });
  app.get('/refuse', (_req, res) => {
    res.status(409).json({ issue: [{ details: { text: 'round 3 is closed' }, diagnostics: 'follow the next round' }] });
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

describe('signed HTTP client retries', () => {
  it('retries transient 503s with a fresh nonce each time, then succeeds', async () => {
    calls = {};
    const r = await signedJson<{ ok: boolean }>({ baseUrl: srv.base, signer, method: 'GET', path: 'flaky', what: 'test', retry: { attempts: 5, baseDelayMs: 5 } });
    expect(r.body).toEqual({ ok: true });
    expect(calls['/flaky']).toHaveLength(3);
    expect(new Set(calls['/flaky']).size).toBe(3);
  });

  it('gives up after the configured attempts with a FEDERATION error naming the cause', async () => {
    calls = {};
    await expect(signedJson({ baseUrl: srv.base, signer, method: 'GET', path: 'flaky', what: 'polling', retry: { attempts: 2, baseDelayMs: 5 } })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_FEDERATION',
      message: expect.stringMatching(/polling failed after 2 attempt\(s\): HTTP 503: warming up/) as unknown,
    });
  });

  it('does not retry a refusal and carries the peer explanation', async () => {
    calls = {};
    const e = await signedJson({ baseUrl: srv.base, signer, method: 'GET', path: 'refuse', what: 'submitting', retry: { attempts: 5, baseDelayMs: 5 } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).code).toBe('FHIRFED_ERR_CONFLICT');
    expect((e as RemoteError).hint).toBe('follow the next round');
    expect(calls['/refuse']).toHaveLength(1);
  });

  it('network failures are retried, then reported', async () => {
    await expect(signedJson({ baseUrl: 'http://127.0.0.1:9', signer, method: 'GET', path: 'x', what: 'connecting', retry: { attempts: 2, baseDelayMs: 1 } })).rejects.toThrow(/connecting failed after 2 attempt/);
  });

  it('backoff is full jitter under an exponential cap', () => {
    expect(backoffDelay(0, { baseDelayMs: 100 }, () => 0.999)).toBe(99);
    expect(backoffDelay(3, { baseDelayMs: 100 }, () => 0.5)).toBe(400);
    expect(backoffDelay(20, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0.999)).toBe(999);
    expect(backoffDelay(5, {}, () => 0)).toBe(0);
  });
});
