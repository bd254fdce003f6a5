import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import { checkUrl, type UrlPolicy } from './guard.js';
import type { TokenProvider } from './pull.js';

/**
 * SMART Backend Services (client-credentials with a signed JWT assertion, RS384 or ES384) for the FHIR pull. The
 * signature comes from node:crypto; the token is cached until a minute before it expires.
 */

export interface SmartOptions extends UrlPolicy {
  readonly clientId: string;
  readonly privateKeyPem: string | Buffer;
  /** Token endpoint; discovered from `.well-known/smart-configuration` when omitted. */
  readonly tokenUrl?: string;
  /** @defaultValue 'system/*.read' */
  readonly scope?: string;
  /** `kid` header, when the server holds several of our keys. */
  readonly keyId?: string;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** The signed client assertion (RFC 7523) the token endpoint expects. */
export function clientAssertion(key: KeyObject, clientId: string, tokenUrl: string, keyId?: string): string {
  const alg = key.asymmetricKeyType === 'rsa' ? 'RS384' : key.asymmetricKeyType === 'ec' ? 'ES384' : undefined;
  if (!alg) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `SMART key type ${key.asymmetricKeyType ?? 'unknown'} is not supported`, {
      where: { path: 'fhir.smartPrivateKeyFile' },
      hint: 'use an RSA (RS384) or P-384 EC (ES384) private key in PEM',
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg, typ: 'JWT', ...(keyId ? { kid: keyId } : {}) }));
  const payload = b64url(JSON.stringify({ iss: clientId, sub: clientId, aud: tokenUrl, exp: now + 300, iat: now, jti: randomUUID() }));
  const input = `${header}.${payload}`;
  // JWS wants ECDSA signatures as raw r||s (ieee-p1363), not DER.
  const sig = sign('sha384', Buffer.from(input), alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${b64url(sig)}`;
}

export function smartTokenProvider(options: SmartOptions): TokenProvider {
  let key: KeyObject;
  try {
    key = createPrivateKey(options.privateKeyPem);
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `the SMART private key cannot be read: ${(e as Error).message}`, {
      where: { path: 'fhir.smartPrivateKeyFile' },
      hint: 'a PEM private key (PKCS#8 or traditional), RSA or P-384 EC',
    });
  }
  let cached: { token: string; until: number } | undefined;
  let tokenUrl = options.tokenUrl;
  return async () => {
    if (cached && Date.now() < cached.until) return cached.token;
    if (!tokenUrl) {
      const res = await fetch(`${options.baseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`, { redirect: 'manual', headers: { Accept: 'application/json' } });
      const conf = res.ok ? ((await res.json()) as { token_endpoint?: string }) : {};
      if (!conf.token_endpoint) {
        throw new FhirfedError('FHIRFED_ERR_UNAUTHENTICATED', 'the FHIR server publishes no SMART token endpoint', {
          hint: 'check that the server supports SMART backend services (.well-known/smart-configuration)',
        });
      }
      tokenUrl = conf.token_endpoint;
    }
    const url = checkUrl(tokenUrl, options, 'token_endpoint');
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: options.scope ?? 'system/*.read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion(key, options.clientId, url.href, options.keyId),
    });
    const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body });
    const json = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!res.ok || !json.access_token) {
      throw new FhirfedError('FHIRFED_ERR_UNAUTHENTICATED', `SMART token request refused: HTTP ${res.status}${json.error ? ` ${json.error}` : ''}${json.error_description ? ` (${json.error_description})` : ''}`, {
        hint: 'check fhir.smartClientId and that the server has the public key of fhir.smartPrivateKeyFile',
      });
    }
    cached = { token: json.access_token, until: Date.now() + Math.max(0, (json.expires_in ?? 300) - 60) * 1000 };
    return json.access_token;
  };
}

/** The token provider the config asks for: SMART backend services, a static bearer token file, or none. */
export function tokenFromConfig(config: Config): TokenProvider | undefined {
  const f = config.fhir;
  if (!f.baseUrl) return undefined;
  const read = (file: string, path: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { where: { path, file } });
    }
  };
  if (f.smartClientId || f.smartPrivateKeyFile) {
    if (!f.smartClientId || !f.smartPrivateKeyFile) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'SMART backend services needs both fhir.smartClientId and fhir.smartPrivateKeyFile', {
        where: { path: f.smartClientId ? 'fhir.smartPrivateKeyFile' : 'fhir.smartClientId' },
      });
    }
    return smartTokenProvider({ baseUrl: f.baseUrl, allowedHosts: f.allowedHosts, clientId: f.smartClientId, privateKeyPem: read(f.smartPrivateKeyFile, 'fhir.smartPrivateKeyFile') });
  }
  if (f.tokenFile) {
    const token = read(f.tokenFile, 'fhir.tokenFile').toString('utf8').trim();
    return () => Promise.resolve(token);
  }
  return undefined;
}
