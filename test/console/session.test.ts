import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { OperatorTokens } from '../../src/federation/auth.js';
import { aggregatorConsoleRouter } from '../../src/console/aggregator.js';
import { deriveSessionKey, readCookie, serializeCookie, SessionCodec } from '../../src/console/session.js';

const TOKEN = 'op-console-token-0123456789abcdef';

describe('session codec', () => {
  it('round-trips a session and refuses tampering, another key, expiry and junk', () => {
    let now = 1_700_000_000_000;
    const key = deriveSessionKey('site-secret-0123456789abcdef', 'gateway-console');
    const codec = new SessionCodec(key, 60, () => now);
    const { value, session } = codec.issue(['console']);
    expect(codec.verify(value)).toEqual({ ok: true, session });
    const [payload, mac] = value.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...session, scopes: ['*'] })).toString('base64url');
    expect(codec.verify(`${forged}.${mac}`)).toMatchObject({ ok: false, reason: 'session signature does not match' });
    expect(new SessionCodec(deriveSessionKey('site-secret-0123456789abcdef', 'aggregator-console'), 60, () => now).verify(value).ok).toBe(false);
    for (const junk of [undefined, '', 'x', '.', `${payload}.`, 'a'.repeat(5000), `${payload}.${mac}.x`]) expect(codec.verify(junk).ok).toBe(false);
    now += 61_000;
    expect(codec.verify(value)).toMatchObject({ ok: false, reason: 'session expired' });
  });

  it('derives the same key from the same secret (restarts, replicas) and a random one without', () => {
    expect(deriveSessionKey('s'.repeat(32), 'p').equals(deriveSessionKey('s'.repeat(32), 'p'))).toBe(true);
    expect(deriveSessionKey(undefined, 'p').equals(deriveSessionKey(undefined, 'p'))).toBe(false);
  });

  it('ties the CSRF token to the session', () => {
    const codec = new SessionCodec(deriveSessionKey(undefined, 'p'));
    const a = codec.issue(['*']).session;
    const b = codec.issue(['*']).session;
    expect(codec.checkCsrf(a, codec.csrfToken(a))).toBe(true);
    expect(codec.checkCsrf(b, codec.csrfToken(a))).toBe(false);
    expect(codec.checkCsrf(a, undefined)).toBe(false);
    expect(codec.checkCsrf(a, ['x'])).toBe(false);
  });

  it('writes HttpOnly SameSite=Strict cookies, Secure when asked, and reads them back', () => {
    expect(serializeCookie('c', 'v', { path: '/console', secure: true, maxAge: 10 })).toBe('c=v; Path=/console; Max-Age=10; HttpOnly; SameSite=Strict; Secure');
    expect(readCookie('a=1; c=v.w; d=2', 'c')).toBe('v.w');
    expect(readCookie('a=1', 'c')).toBeUndefined();
  });
});

describe('console behind an https proxy', () => {
  it('marks the session cookie Secure when the request came over https', async () => {
    const app = express();
    app.set('trust proxy', true);
    app.use('/console', aggregatorConsoleRouter({ view: () => ({}), logger: silentLogger, operatorTokens: new OperatorTokens([{ token: TOKEN, scopes: ['console'] }]) }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'x-forwarded-proto': 'https' }, body: new URLSearchParams({ token: TOKEN }) });
      expect(res.status).toBe(303);
      expect(res.headers.get('set-cookie')).toMatch(/; Secure$/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
