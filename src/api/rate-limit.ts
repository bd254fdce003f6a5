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
function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

export function rateLimiter(o: RateLimitOptions): RequestHandler {
  if (o.requestsPerSecond <= 0) return (_req, _res, next) => next();
  const buckets = new Map<string, Bucket>();
  const max = o.maxClients ?? 10_000;
  const now = o.now ?? Date.now;
  const burst = Math.max(1, o.burst);
  return (req, res, next) => {
    if (EXEMPT.has(req.path)) {
      next();
      return;
    }
    const key = clientOf(req);
    const t = now();
    const b = buckets.get(key) ?? { tokens: burst, at: t };
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * o.requestsPerSecond);
    b.at = t;
    // Re-insert so the Map's order is least-recently-seen first, which is the eviction order.
    buckets.delete(key);
    buckets.set(key, b);
    while (buckets.size > max) buckets.delete(buckets.keys().next().value as string);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      next();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / o.requestsPerSecond));
    res.setHeader('Retry-After', String(retryAfter));
    next(
      new FhirfedError('FHIRFED_ERR_RATE_LIMITED', `too many requests from this client (limit ${o.requestsPerSecond}/s, burst ${burst})`, {
        hint: `retry after ${retryAfter} s; operators can raise server.rateLimit`,
      }),
    );
  };
}
