import type { Bundle, Resource } from 'fhir/r4.js';
import { Client } from 'fhir-kit-client';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Ledger, LedgerEntry } from '../ledger/index.js';
import { fhirEntry } from '../pipeline.js';
import { checkBaseUrl, checkUrl, type UrlPolicy } from './guard.js';

/**
 * FHIR REST pull with fhir-kit-client: per resource type, search with `_count`, follow `next` links (each checked
 * by the SSRF guard), and on later runs ask only for `_lastUpdated=gt<checkpoint>`. The checkpoint (the newest
 * meta.lastUpdated seen) is saved in the ledger only after a type's last page is stored: a crash mid-way re-pulls
 * from the old checkpoint and the ledger's dedupe makes that harmless.
 */

export type TokenProvider = () => Promise<string | undefined>;

export interface PullOptions extends UrlPolicy {
  readonly ledger: Ledger;
  readonly logger: Logger;
  readonly resourceTypes: readonly string[];
  /** @defaultValue 100 */
  readonly pageSize?: number;
  readonly token?: TokenProvider;
  /** Stop after this many pages per type (a loop guard). @defaultValue 10000 */
  readonly maxPages?: number;
}

export interface PullSummary {
  readonly pages: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly dead: number;
  readonly byType: Record<string, { accepted: number; checkpoint?: string }>;
}

export function checkpointName(baseUrl: string, type: string): string {
  return `fhir-rest|${baseUrl.replace(/\/+$/, '')}|${type}`;
}

function requestError(e: unknown, what: string): FhirfedError {
  const status = (e as { response?: { status?: number } }).response?.status;
  if (status !== undefined && status >= 300 && status < 400) {
    return new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${what} was answered with a redirect (HTTP ${status}), which is not followed`, {
      hint: 'redirects are refused (SSRF guard): configure fhir.baseUrl as the server\'s final address',
      cause: e,
    });
  }
  const auth = status === 401 || status === 403;
  return new FhirfedError(auth ? 'FHIRFED_ERR_UNAUTHENTICATED' : 'FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `${what} failed${status ? ` with HTTP ${status}` : `: ${(e as Error).message}`}`, {
    hint: auth ? 'check fhir.tokenFile or the SMART backend-services settings (fhir.smartClientId, fhir.smartPrivateKeyFile)' : 'check fhir.baseUrl and that the server is reachable',
    cause: e,
  });
}

export async function pullRest(options: PullOptions): Promise<PullSummary> {
  checkBaseUrl(options);
  // fetch would follow redirects to any host; 'manual' turns them into a 3xx answer, refused below.
  const client = new Client({ baseUrl: options.baseUrl, requestOptions: { redirect: 'manual' } });
  const summary = { pages: 0, accepted: 0, duplicates: 0, dead: 0, byType: {} as PullSummary['byType'] };
  for (const type of options.resourceTypes) {
    const name = checkpointName(options.baseUrl, type);
    const since = options.ledger.getCheckpoint(name);
    const searchParams: Record<string, string | number> = { _count: options.pageSize ?? 100 };
    if (since) searchParams._lastUpdated = `gt${since}`;
    let newest = since;
    let accepted = 0;
    const seen = new Set<string>();
    const headers = async (): Promise<Record<string, string>> => {
      const t = await options.token?.();
      return { Accept: 'application/fhir+json', ...(t ? { Authorization: `Bearer ${t}` } : {}) };
    };
    let bundle: Bundle | undefined;
    try {
      bundle = (await client.search({ resourceType: type, searchParams, options: { headers: await headers() } })) as unknown as Bundle;
    } catch (e) {
      throw requestError(e, `search ${type}`);
    }
    for (let page = 0; bundle; page++) {
      if (page >= (options.maxPages ?? 10_000)) {
        throw new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `search ${type} did not end after ${page} pages`, { hint: 'raise maxPages or check the server paging' });
      }
      summary.pages++;
      const entries: LedgerEntry[] = [];
      for (const e of bundle.entry ?? []) {
        const r = e.resource as Resource | undefined;
        if (!r || e.search?.mode === 'outcome' || r.resourceType === 'OperationOutcome') continue;
        entries.push(fhirEntry(r, options.baseUrl, `${type} search page ${page + 1}`));
        const lu = r.meta?.lastUpdated;
        if (lu && (!newest || Date.parse(lu) > Date.parse(newest))) newest = lu;
      }
      for (const [i, res] of options.ledger.write(entries).entries()) {
        if (res.duplicate) summary.duplicates++;
        else if (entries[i]?.dead) summary.dead++;
        else accepted++;
      }
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      const url = checkUrl(next, options, 'Bundle.link.next').href;
      if (seen.has(url)) throw new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `search ${type}: the server repeats the next link ${url}`);
      seen.add(url);
      try {
        bundle = (await client.request(url, { options: { headers: await headers() } })) as unknown as Bundle;
      } catch (e) {
        throw requestError(e, `search ${type} page ${page + 2}`);
      }
    }
    if (newest && newest !== since) options.ledger.setCheckpoint(name, newest);
    summary.accepted += accepted;
    summary.byType[type] = { accepted, ...(newest ? { checkpoint: newest } : {}) };
    options.logger.info({ type, accepted, checkpoint: newest }, 'fhir rest pull done');
  }
  return summary;
}
