/**
 * Request authentication for federation endpoints: ed25519-signed requests per site (see signing.ts) or an
 * operator bearer token. The middleware checks, in order: headers present, signer known, timestamp within the
 * allowed skew, signature valid, and only then claims the nonce, so a forged request cannot burn a genuine nonce.
 * Every refusal is 401 with the reason; an authenticated caller without the right role is 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type Request, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { FhirfedError } from '../core/errors.js';
import { HEADER_NONCE, HEADER_SIGNATURE, HEADER_SITE, HEADER_TIMESTAMP, signingString, verifySignature } from './signing.js';

/** @defaultValue 5 minutes either way. */
export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;

export type Principal = { readonly kind: 'site'; readonly site: string } | { readonly kind: 'operator'; readonly scopes: readonly string[] };

/** Remembers nonces for as long as their timestamp could still be accepted. */
export interface NonceStore {
  /** true the first time `key` is seen within `ttlMs`, false on a replay. */
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/** In-process store, bounded: oldest entries go first when full (they are the first to expire anyway). */
export class MemoryNonceStore implements NonceStore {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}

  claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.seen.delete(key);
    this.seen.set(key, now + ttlMs);
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return Promise.resolve(true);
  }
}

/** Shared store for several aggregator replicas: SET NX with a TTL. */
export class RedisNonceStore implements NonceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:nonce:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Operator bearer tokens, kept only as SHA-256 digests and compared in constant time. */
export class OperatorTokens {
  private readonly entries: { digest: Buffer; scopes: readonly string[] }[];

  constructor(list: readonly { token: string; scopes: readonly string[] }[]) {
    this.entries = list.map((e) => ({ digest: digest(e.token), scopes: e.scopes }));
  }

  /** File format: one `token scope,scope` per line; `#` starts a comment. A token without scopes gets `*`. */
  static fromFile(file: string, where = 'operatorTokensFile'): OperatorTokens {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `cannot read the operator tokens file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
        where: { file, path: where },
        hint: 'one `token scope,scope` per line',
      });
    }
    const list: { token: string; scopes: string[] }[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) return;
      const [token, scopes] = line.split(/\s+/, 2);
      if (!token || token.length < 16) {
        throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', 'an operator token must be at least 16 characters', { where: { file, line: i + 1 }, hint: 'use `openssl rand -hex 32`' });
      }
      list.push({ token, scopes: scopes ? scopes.split(',').filter(Boolean) : ['*'] });
    });
    return new OperatorTokens(list);
  }

  check(token: string): readonly string[] | undefined {
    const d = digest(token);
    let found: readonly string[] | undefined;
    // Compare against every entry so the time taken does not reveal which one matched.
    for (const e of this.entries) if (timingSafeEqual(d, e.digest)) found = e.scopes;
    return found;
  }
}

export interface AuthOptions {
  /** The signer's ed25519 public key, undefined when not registered. */
  readonly resolveKey: (signer: string) => Uint8Array | undefined;
  readonly nonces: NonceStore;
  readonly operatorTokens?: OperatorTokens;
  /** Operator scope required for bearer access (an operator with `*` always passes). */
  readonly operatorScope?: string;
  /** Whether site signatures are accepted here (false: operator only). @defaultValue true */
  readonly allowSites?: boolean;
  /** @defaultValue DEFAULT_MAX_SKEW_MS */
  readonly maxSkewMs?: number;
  readonly now?: () => number;
}

type RawBodyRequest = Request & { rawBody?: Buffer };

/** express.json that also keeps the exact bytes, which the signature covers. */
export function jsonWithRawBody(limitBytes: number): RequestHandler {
  return express.json({
    limit: limitBytes,
    verify: (req, _res, buf) => {
      (req as RawBodyRequest).rawBody = buf;
    },
  });
}

const unauthenticated = (message: string, hint: string): FhirfedError => new FhirfedError('FHIRFED_ERR_UNAUTHENTICATED', message, { hint });

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

async function authenticate(req: Request, o: AuthOptions): Promise<Principal> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) {
    const scopes = o.operatorTokens?.check(bearer);
    if (!scopes) throw unauthenticated('the bearer token is not valid here', 'use an operator token from the operator tokens file');
    if (o.operatorScope && !scopes.includes('*') && !scopes.includes(o.operatorScope)) {
      throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `the operator token lacks the scope ${o.operatorScope}`, { hint: `add ${o.operatorScope} to the token's scopes` });
    }
    return { kind: 'operator', scopes };
  }
  const signer = header(req, HEADER_SITE);
  const ts = header(req, HEADER_TIMESTAMP);
  const nonce = header(req, HEADER_NONCE);
  const sig = header(req, HEADER_SIGNATURE);
  if (!signer || !ts || !nonce || !sig) {
    throw unauthenticated('this endpoint needs a signed request or an operator bearer token', `send ${HEADER_SITE}, ${HEADER_TIMESTAMP}, ${HEADER_NONCE} and ${HEADER_SIGNATURE} (the fhirfed client does this)`);
  }
  if (o.allowSites === false) throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', 'this endpoint is for operators only', { hint: 'use an operator bearer token' });
  const key = o.resolveKey(signer);
  if (!key) throw unauthenticated(`signer ${JSON.stringify(signer)} is not registered`, 'register the site\'s public key in the aggregator config (sites[].publicKey) or through the admin API');
  const maxSkew = o.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const t = Number(ts);
  const now = (o.now ?? Date.now)();
  if (!/^\d{1,16}$/.test(ts) || Math.abs(now - t) > maxSkew) {
    throw unauthenticated(`the request timestamp is more than ${maxSkew / 1000} s away from this server's clock`, 'check NTP on both machines; a captured request cannot be replayed later');
  }
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw unauthenticated('the request nonce is malformed', 'send 16 random bytes as base64url');
  const body = (req as RawBodyRequest).rawBody ?? new Uint8Array(0);
  if (!verifySignature(key, sig, signingString(req.method, req.originalUrl, body, ts, nonce, signer))) {
    throw unauthenticated(`bad signature from ${signer}`, 'the request was altered, or it was signed with a key other than the registered one');
  }
  // TTL covers the whole window in which this timestamp would still pass the skew check.
  if (!(await o.nonces.claim(`${signer}:${nonce}`, 2 * maxSkew))) {
    throw unauthenticated(`replayed request from ${signer} (nonce already used)`, 'each request needs a fresh nonce');
  }
  return { kind: 'site', site: signer };
}

/** Puts the caller in `res.locals.principal`; refuses everything else with 401/403. */
export function requireAuth(o: AuthOptions): RequestHandler {
  return (req, res, next) => {
    authenticate(req, o).then(
      (p) => {
        res.locals.principal = p;
        next();
      },
      (e: unknown) => next(e),
    );
  };
}

export function principalOf(res: { locals: Record<string, unknown> }): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'route reached without authentication');
  return p;
}

/** The site a signed request comes from; 403 for operators and for a site acting in another site's name. */
export function requireSite(res: { locals: Record<string, unknown> }, claimed?: string): string {
  const p = principalOf(res);
  if (p.kind !== 'site') throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', 'this endpoint takes signed site requests only', { hint: 'sites sign with their ed25519 key' });
  if (claimed !== undefined && claimed !== p.site) {
    throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `site ${p.site} cannot send a message in the name of ${claimed}`, { where: { path: 'site' } });
  }
  return p.site;
}
