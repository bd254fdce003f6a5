import { createHmac } from 'node:crypto';
import { FhirfedError } from '../core/errors.js';

/**
 * Feature rows are keyed by HMAC-SHA-256(site secret, source patient key), hex. The same patient gets the same key on
 * every run at one site (so rows upsert), while without the secret the key cannot be reversed or linked across sites.
 */

/** Fewer bytes than this and the secret could be guessed by brute force over known patient ids. */
export const MIN_SECRET_LENGTH = 16;

export function checkSiteSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `the site secret must be at least ${MIN_SECRET_LENGTH} characters`, {
      hint: 'set FHIRFED_SITE_SECRET (or pass --secret) to a long random value, e.g. `openssl rand -hex 32`, and keep it stable',
    });
  }
}

export function pseudonym(sourceKey: string, secret: string): string {
  return createHmac('sha256', secret).update(sourceKey, 'utf8').digest('hex');
}

/**
 * `Patient/123` from whatever a view column gives: a relative reference, `urn:uuid:...`, an absolute URL, or a bare
 * id (from a Patient view or getReferenceKey()).
 */
export function patientKey(raw: unknown): string | undefined {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const s = String(v).trim();
  if (s === '') return undefined;
  if (s.startsWith('urn:uuid:')) return `Patient/${s.slice(9)}`;
  const m = /(?:^|\/)Patient\/([^/]+)(?:\/_history\/[^/]+)?$/.exec(s);
  if (m) return `Patient/${m[1]}`;
  if (!s.includes('/')) return `Patient/${s}`;
  return undefined;
}
