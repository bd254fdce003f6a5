/**
 * Signed JSON over HTTP with retries: what the gateway's aggregator client and the aggregator's status poller use.
 * Transient failures (network errors, timeouts, 408/425/429/5xx) are retried with exponential backoff and full
 * jitter (delay uniform in [0, min(maxDelay, base·2^attempt)], AWS architecture blog "Exponential Backoff And
 * Jitter"), re-signed each time with a fresh nonce. Anything else fails at once with the peer's explanation.
 */
import { FhirfedError, type ErrorCode } from '../core/errors.js';
import { signRequest } from './signing.js';

export interface RetryPolicy {
  /** @defaultValue 5 */
  readonly attempts?: number;
  /** @defaultValue 250 ms */
  readonly baseDelayMs?: number;
  /** @defaultValue 15 s */
  readonly maxDelayMs?: number;
  /** Per attempt. @defaultValue 30 s */
  readonly timeoutMs?: number;
}

export interface Signer {
  readonly site: string;
  readonly secretKey: Uint8Array;
}

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T | undefined;
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'FHIRFED_ERR_BAD_REQUEST',
  401: 'FHIRFED_ERR_UNAUTHENTICATED',
  403: 'FHIRFED_ERR_FORBIDDEN',
  404: 'FHIRFED_ERR_NOT_FOUND',
  409: 'FHIRFED_ERR_CONFLICT',
  413: 'FHIRFED_ERR_PAYLOAD_TOO_LARGE',
  422: 'FHIRFED_ERR_VALIDATION',
};

export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs ?? 15_000, (policy.baseDelayMs ?? 250) * 2 ** attempt);
  return Math.floor(random() * cap);
}

/** The remote OperationOutcome's text and hint, when there is one. */
function explain(body: unknown): { text: string; hint?: string } {
  const issue = (body as { issue?: { details?: { text?: string }; diagnostics?: string }[] } | undefined)?.issue?.[0];
  return { text: issue?.details?.text ?? 'no explanation given', ...(issue?.diagnostics ? { hint: issue.diagnostics } : {}) };
}

/** Thrown for a non-retryable answer; `status` is the peer's HTTP status. */
export class RemoteError extends FhirfedError {
  constructor(
    readonly httpStatus: number,
    what: string,
    body: unknown,
  ) {
    const { text, hint } = explain(body);
    super(STATUS_CODES[httpStatus] ?? 'FHIRFED_ERR_FEDERATION', `${what} was refused with HTTP ${httpStatus}: ${text}`, hint ? { hint } : {});
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function signedJson<T = unknown>(opts: {
  readonly baseUrl: string;
  readonly signer: Signer;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly body?: unknown;
  readonly retry?: RetryPolicy;
  /** What the request does, for error messages ("submitting the update of round 3"). */
  readonly what: string;
}): Promise<HttpResult<T>> {
  const url = new URL(opts.path, opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const pathAndQuery = `${url.pathname}${url.search}`;
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const attempts = opts.retry?.attempts ?? 5;
  let lastError = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleep(backoffDelay(attempt - 1, opts.retry ?? {}));
    const headers: Record<string, string> = {
      ...signRequest({ site: opts.signer.site, secretKey: opts.signer.secretKey, method: opts.method, path: pathAndQuery, ...(payload ? { body: payload } : {}) }),
      accept: 'application/json',
      ...(payload ? { 'content-type': 'application/json' } : {}),
    };
    let res: Response;
    try {
      // Redirects are never followed: a peer (or whoever controls its DNS) must not steer signed requests elsewhere.
      res = await fetch(url, { method: opts.method, headers, redirect: 'manual', ...(payload ? { body: payload } : {}), signal: AbortSignal.timeout(opts.retry?.timeoutMs ?? 30_000) });
    } catch (e) {
      lastError = e instanceof Error ? `${e.name}: ${(e.cause as Error | undefined)?.message ?? e.message}` : String(e);
      continue;
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${opts.what}: ${url.origin} answered with a redirect (HTTP ${res.status}) to ${res.headers.get('location') ?? '?'}, which is not followed`, {
        hint: 'configure the final URL (aggregator.url, the status URL) directly; redirects are refused so that config cannot be turned into SSRF',
      });
    }
    const text = await res.text().catch(() => '');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.ok) return { status: res.status, body: body as T | undefined };
    if (!RETRYABLE.has(res.status)) throw new RemoteError(res.status, opts.what, body);
    lastError = `HTTP ${res.status}: ${explain(body).text}`;
  }
  throw new FhirfedError('FHIRFED_ERR_FEDERATION', `${opts.what} failed after ${attempts} attempt(s): ${lastError}`, {
    hint: `check that ${url.origin} is reachable and healthy`,
  });
}
