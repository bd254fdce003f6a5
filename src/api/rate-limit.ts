import type { Request, RequestHandler } from 'express';
import { FhirfedError } from '../core/errors.js';

/**
 * An in-process token bucket per client address, in front of authentication so that a flood of unauthenticated
 * or forged requests is throttled before any signature is checked. Each client gets `burst` tokens, refilled at
 * `requestsPerSecond`; an empty bucket answers 429 with Retry-After (whole seconds) and an OperationOutcome.
 * Probes (/healthz, /readyz) are exempt: a throttled kubelet would restart a healthy pod.
 * One process, one map: replicas each enforce their own limit, which is fine for abuse protection.
 */
export interface RateLimitOptions {
  /** Sustained requests per second per client; 0 turns the limiter off. */
  readonly requestsPerSecond: number;
  /** Requests a client may send at once before the sustained rate applies. */
  readonly burst: number;
  /** Clients remembered at once; the least recently seen are forgotten first. @defaultValue 10000 */
  readonly maxClients?: number;
  readonly now?: () => number;
}

const EXEMPT = new Set(['/healthz', '/readyz']);

interface Bucket {
  tokens: number;
  at: number;
}

/** The client key: the socket (or, with trust proxy, forwarded) address. */
export function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * Token buckets keyed by client: each key holds up to `burst` tokens, refilled at `perSecond`. The map forgets the
 * least recently seen keys beyond `maxClients`, so a flood of addresses cannot grow it without bound.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;
  private readonly now: () => number;

  constructor(
    private readonly perSecond: number,
    burst: number,
    private readonly maxClients = 10_000,
    now: () => number = Date.now,
  ) {
    this.burst = Math.max(1, burst);
    this.now = now;
  }

  private bucket(key: string): Bucket {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    // Re-insert so the Map's order is least-recently-seen first, which is the eviction order.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value as string);
    return b;
  }

  /** Seconds until `key` has a token again (0: it has one now). */
  wait(key: string): number {
    const b = this.bucket(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  /** Takes a token: 0 when there was one, else the seconds to wait (nothing taken). */
  take(key: string): number {
    const w = this.wait(key);
    if (w === 0) (this.buckets.get(key) as Bucket).tokens -= 1;
    return w;
  }
}

export function rateLimiter(o: RateLimitOptions): RequestHandler {
  if (o.requestsPerSecond <= 0) return (_req, _res, next) => next();
  const buckets = new TokenBuckets(o.requestsPerSecond, o.burst, o.maxClients, o.now);
  const burst = Math.max(1, o.burst);
  return (req, res, next) => {
    if (EXEMPT.has(req.path)) {
      next();
      return;
    }
    const retryAfter = buckets.take(clientOf(req));
    if (retryAfter === 0) {
      next();
      return;
    }
    res.setHeader('Retry-After', String(retryAfter));
    next(
      new FhirfedError('FHIRFED_ERR_RATE_LIMITED', `too many requests from this client (limit ${o.requestsPerSecond}/s, burst ${burst})`, {
        hint: `retry after ${retryAfter} s; operators can raise server.rateLimit`,
      }),
    );
  };
}
