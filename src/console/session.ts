/**
 * Console sessions: browsers cannot attach the operator's bearer token to page loads, so the login form trades a
 * valid token for a session cookie. The cookie is stateless and holds no secret: a base64url JSON payload (random
 * session id, issue and expiry time, the token's scopes) and an HMAC-SHA-256 over it (node:crypto) with a key the
 * server derives once. A forged or altered cookie fails the MAC check; an expired one is refused.
 *
 * CSRF: the cookie is SameSite=Strict (a cross-site form post does not carry it), and every POST also needs the
 * session's CSRF token in a hidden `_csrf` field: HMAC(key, "csrf." + session id), so it is tied to this session
 * and checked in constant time.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** @defaultValue 8 hours: a working shift. */
export const DEFAULT_SESSION_TTL_SECONDS = 8 * 3600;

export interface Session {
  readonly sid: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  readonly scopes: readonly string[];
}

/**
 * The MAC key: HKDF-SHA-256 of a server secret with a purpose label, so the console never uses the secret itself
 * (the gateway passes its site secret: sessions then survive restarts and work across replicas). Without a secret
 * a random key is made: sessions end when the process does.
 */
export function deriveSessionKey(secret: string | Uint8Array | undefined, purpose: string): Buffer {
  if (secret === undefined) return randomBytes(32);
  return Buffer.from(hkdfSync('sha256', secret, 'fhirfed-console-session', purpose, 32));
}

const b64 = (buf: Buffer): string => buf.toString('base64url');
const mac = (key: Buffer, label: string, data: string): Buffer => createHmac('sha256', key).update(`${label}.${data}`).digest();

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export class SessionCodec {
  constructor(
    private readonly key: Buffer,
    private readonly ttlSeconds = DEFAULT_SESSION_TTL_SECONDS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(scopes: readonly string[]): { value: string; session: Session } {
    const iat = Math.floor(this.now() / 1000);
    const session: Session = { sid: b64(randomBytes(16)), iat, exp: iat + this.ttlSeconds, scopes: [...scopes] };
    const payload = b64(Buffer.from(JSON.stringify(session)));
    return { value: `${payload}.${b64(mac(this.key, 'session', payload))}`, session };
  }

  /** The session in a cookie value, or why it is not one (never throws on bad input). */
  verify(value: string | undefined): { ok: true; session: Session } | { ok: false; reason: string } {
    if (!value) return { ok: false, reason: 'no session' };
    const dot = value.indexOf('.');
    if (dot <= 0 || value.length > 4096) return { ok: false, reason: 'malformed session cookie' };
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    if (!safeEqual(given, mac(this.key, 'session', payload))) return { ok: false, reason: 'session signature does not match' };
    let s: Partial<Session>;
    try {
      s = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Session>;
    } catch {
      return { ok: false, reason: 'malformed session cookie' };
    }
    if (typeof s.sid !== 'string' || typeof s.exp !== 'number' || typeof s.iat !== 'number' || !Array.isArray(s.scopes)) {
      return { ok: false, reason: 'malformed session cookie' };
    }
    if (s.exp * 1000 <= this.now()) return { ok: false, reason: 'session expired' };
    return { ok: true, session: { sid: s.sid, iat: s.iat, exp: s.exp, scopes: s.scopes.map(String) } };
  }

  csrfToken(session: Session): string {
    return b64(mac(this.key, 'csrf', session.sid));
  }

  checkCsrf(session: Session, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 256) return false;
    return safeEqual(Buffer.from(token, 'base64url'), mac(this.key, 'csrf', session.sid));
  }

  get maxAgeSeconds(): number {
    return this.ttlSeconds;
  }
}

/** The value of one cookie from a Cookie header (first occurrence), undefined when absent. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  readonly path: string;
  readonly secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  readonly maxAge: number;
}

/** A Set-Cookie value: always HttpOnly and SameSite=Strict; Secure when the request came over https. */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  return [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${o.maxAge}`, 'HttpOnly', 'SameSite=Strict', ...(o.secure ? ['Secure'] : [])].join('; ');
}
