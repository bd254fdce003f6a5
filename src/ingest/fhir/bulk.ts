import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Ledger, LedgerEntry } from '../ledger/index.js';
import { deadFhirEntry, fhirEntry } from '../pipeline.js';
import { checkBaseUrl, checkUrl, type UrlPolicy } from './guard.js';
import type { TokenProvider } from './pull.js';

/**
 * FHIR Bulk Data `$export`: kick-off with `Prefer: respond-async`, poll the Content-Location honouring Retry-After
 * (else exponential backoff), then download each NDJSON output streamed line by line into the ledger. The manifest's
 * transactionTime becomes the `_since` of the next export (kept in the ledger).
 */

export interface BulkOptions extends UrlPolicy {
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly resourceTypes?: readonly string[];
  /** `system` ($export), `patient` (Patient/$export) or a Group id. @defaultValue 'system' */
  readonly level?: 'system' | 'patient' | { readonly group: string };
  readonly token?: TokenProvider;
  /** First wait when the server gives no Retry-After; doubles up to maxPollMs. @defaultValue 1000 */
  readonly minPollMs?: number;
  /** @defaultValue 60000 */
  readonly maxPollMs?: number;
  /** Give up after this long. @defaultValue 6 hours */
  readonly timeoutMs?: number;
}

interface Manifest {
  readonly transactionTime: string;
  readonly requiresAccessToken?: boolean;
  readonly output: readonly { readonly type: string; readonly url: string }[];
  readonly error?: readonly { readonly type: string; readonly url: string }[];
}

export interface BulkSummary {
  readonly files: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly dead: number;
  readonly transactionTime: string;
}

const BATCH = 500;

export function bulkCheckpointName(baseUrl: string): string {
  return `fhir-bulk|${baseUrl.replace(/\/+$/, '')}`;
}

async function failure(res: Response, what: string): Promise<FhirfedError> {
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => undefined);
    return new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${what}: HTTP ${res.status} redirect to ${res.headers.get('location') ?? '?'} not followed`, {
      hint: 'redirects are refused (SSRF guard): configure fhir.baseUrl as the server\'s final address',
    });
  }
  const text = (await res.text().catch(() => '')).slice(0, 500);
  let detail = text;
  try {
    const oo = JSON.parse(text) as { issue?: { diagnostics?: string; details?: { text?: string } }[] };
    detail = oo.issue?.map((i) => i.details?.text ?? i.diagnostics).filter(Boolean).join('; ') || text;
  } catch {
    // not JSON: keep the text
  }
  const auth = res.status === 401 || res.status === 403;
  return new FhirfedError(auth ? 'FHIRFED_ERR_UNAUTHENTICATED' : 'FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, {
    hint: auth ? 'check the FHIR credentials (fhir.tokenFile or SMART backend services)' : 'check that the server supports Bulk Data $export',
  });
}

function retryAfterMs(res: Response, fallback: number, max: number): number {
  const h = res.headers.get('retry-after');
  if (h === null) return fallback;
  const secs = Number(h);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(h) - Date.now();
  return Math.min(Math.max(0, ms), max);
}

export async function bulkExport(options: BulkOptions): Promise<BulkSummary> {
  checkBaseUrl(options);
  const base = options.baseUrl.replace(/\/+$/, '');
  const level = options.level ?? 'system';
  const path = level === 'system' ? '$export' : level === 'patient' ? 'Patient/$export' : `Group/${encodeURIComponent(level.group)}/$export`;
  const kick = new URL(`${base}/${path}`);
  if (options.resourceTypes?.length) kick.searchParams.set('_type', options.resourceTypes.join(','));
  const since = options.ledger.getCheckpoint(bulkCheckpointName(base));
  if (since) kick.searchParams.set('_since', since);
  const auth = async (): Promise<Record<string, string>> => {
    const t = await options.token?.();
    return t ? { Authorization: `Bearer ${t}` } : {};
  };

  const started = await fetch(kick, { redirect: 'manual', headers: { Accept: 'application/fhir+json', Prefer: 'respond-async', ...(await auth()) } });
  if (started.status !== 202) throw await failure(started, 'Bulk $export kick-off');
  await started.body?.cancel();
  const location = started.headers.get('content-location');
  if (!location) throw new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', 'Bulk $export kick-off answered 202 without Content-Location');
  const statusUrl = checkUrl(location, options, 'Content-Location');

  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3600_000);
  let wait = options.minPollMs ?? 1000;
  const maxWait = options.maxPollMs ?? 60_000;
  let manifest: Manifest | undefined;
  while (!manifest) {
    const res = await fetch(statusUrl, { redirect: 'manual', headers: { Accept: 'application/json', ...(await auth()) } });
    if (res.status === 200) manifest = (await res.json()) as Manifest;
    else if (res.status === 202 || res.status === 429 || res.status === 503) {
      await res.body?.cancel();
      if (Date.now() > deadline) throw new FhirfedError('FHIRFED_ERR_TIMEOUT', `Bulk $export not complete after ${options.timeoutMs ?? 6 * 3600_000} ms`);
      options.logger.debug({ progress: res.headers.get('x-progress') }, 'bulk export in progress');
      await sleep(retryAfterMs(res, wait, maxWait));
      wait = Math.min(wait * 2, maxWait);
    } else throw await failure(res, 'Bulk $export status');
  }

  let files = 0;
  const counts = { accepted: 0, duplicates: 0, dead: 0 };
  for (const out of manifest.output) {
    const url = checkUrl(out.url, options, `manifest output ${out.type}`);
    const res = await fetch(url, { redirect: 'manual', headers: { Accept: 'application/fhir+ndjson', ...(manifest.requiresAccessToken ? await auth() : {}) } });
    if (!res.ok || !res.body) throw await failure(res, `Bulk file ${out.type}`);
    files++;
    await storeNdjson(options.ledger, Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), `${base} bulk ${out.type}`, counts);
  }
  for (const e of manifest.error ?? []) options.logger.warn({ type: e.type }, 'bulk export reported an error file');
  options.ledger.setCheckpoint(bulkCheckpointName(base), manifest.transactionTime);
  options.logger.info({ files, ...counts }, 'bulk export done');
  return { files, ...counts, transactionTime: manifest.transactionTime };
}

async function storeNdjson(ledger: Ledger, stream: Readable, source: string, counts: { accepted: number; duplicates: number; dead: number }): Promise<void> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let batch: LedgerEntry[] = [];
  let n = 0;
  const flush = (): void => {
    for (const [i, r] of ledger.write(batch).entries()) {
      if (r.duplicate) counts.duplicates++;
      else if (batch[i]?.dead) counts.dead++;
      else counts.accepted++;
    }
    batch = [];
  };
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    try {
      batch.push(fhirEntry(JSON.parse(line), source, `${source}:${n}`));
    } catch (e) {
      batch.push(deadFhirEntry(line, new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `not valid JSON: ${(e as Error).message}`, { where: { file: source, line: n } }), source));
    }
    if (batch.length >= BATCH) flush();
  }
  flush();
}
