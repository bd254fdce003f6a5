import { FhirfedError } from '../../core/errors.js';

/**
 * SSRF guard for URLs a FHIR server hands back (search `next` links, Bulk Content-Location and file URLs, token
 * endpoints): they must be http(s) and stay on the configured server's host, or on a host listed in
 * fhir.allowedHosts. A compromised or misconfigured server cannot make the gateway fetch internal addresses.
 */
export interface UrlPolicy {
  readonly baseUrl: string;
  /** Extra hosts (`host` or `host:port`) URLs may point to. */
  readonly allowedHosts: readonly string[];
}

function hostMatches(url: URL, entry: string): boolean {
  const e = entry.toLowerCase();
  return e.includes(':') ? url.host.toLowerCase() === e : url.hostname.toLowerCase() === e;
}

export function checkUrl(raw: string, policy: UrlPolicy, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw, policy.baseUrl.endsWith('/') ? policy.baseUrl : `${policy.baseUrl}/`);
  } catch {
    throw new FhirfedError('FHIRFED_ERR_FEDERATION', `${what} is not a URL: ${raw.slice(0, 200)}`, { where: { path: what } });
  }
  const base = new URL(policy.baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${what} uses ${url.protocol}, only http(s) is followed`, { where: { path: what } });
  }
  const sameHost = url.host.toLowerCase() === base.host.toLowerCase();
  if (!sameHost && !policy.allowedHosts.some((h) => hostMatches(url, h))) {
    throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `${what} points to ${url.host}, which is neither the FHIR server (${base.host}) nor in fhir.allowedHosts`, {
      where: { path: what },
      hint: 'if the server really serves from that host (e.g. a CDN for Bulk files), add it to fhir.allowedHosts',
    });
  }
  return url;
}

/** The configured base URL itself must be allowed when fhir.allowedHosts is set. */
export function checkBaseUrl(policy: UrlPolicy): void {
  if (policy.allowedHosts.length === 0) return;
  const base = new URL(policy.baseUrl);
  if (!policy.allowedHosts.some((h) => hostMatches(base, h))) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `fhir.baseUrl host ${base.host} is not in fhir.allowedHosts`, {
      where: { path: 'fhir.allowedHosts' },
      hint: `add '${base.hostname}' to fhir.allowedHosts or leave the list empty`,
    });
  }
}
