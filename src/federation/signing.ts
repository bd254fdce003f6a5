/**
 * Signed HTTP requests between gateways and the aggregator (ed25519, @noble/curves).
 *
 * The signer sends four headers: `x-fhirfed-site` (who), `x-fhirfed-timestamp` (ms since the epoch),
 * `x-fhirfed-nonce` (16 random bytes, base64url) and `x-fhirfed-signature` (base64 ed25519) over
 *
 *   fhirfed-request/v1 \n METHOD \n path?query \n hex(sha256(body)) \n timestamp \n nonce \n site
 *
 * Binding the site id stops a valid signature of one site being presented under another's name; the body hash
 * binds the content; timestamp + nonce make a captured request useless after a few minutes or a second time.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { FhirfedError } from '../core/errors.js';

export const HEADER_SITE = 'x-fhirfed-site';
export const HEADER_TIMESTAMP = 'x-fhirfed-timestamp';
export const HEADER_NONCE = 'x-fhirfed-nonce';
export const HEADER_SIGNATURE = 'x-fhirfed-signature';
/** The signer id the aggregator uses when it calls a gateway (GET /status). */
export const AGGREGATOR_SIGNER = 'aggregator';

const DOMAIN = 'fhirfed-request/v1';
const EMPTY = new Uint8Array(0);

export interface SignedHeaders {
  readonly [HEADER_SITE]: string;
  readonly [HEADER_TIMESTAMP]: string;
  readonly [HEADER_NONCE]: string;
  readonly [HEADER_SIGNATURE]: string;
}

export function signingString(method: string, path: string, body: Uint8Array, timestamp: string, nonce: string, site: string): Uint8Array {
  const text = [DOMAIN, method.toUpperCase(), path, bytesToHex(sha256(body)), timestamp, nonce, site].join('\n');
  return new TextEncoder().encode(text);
}

/** Headers for one request; `path` is the path plus query string exactly as sent. */
export function signRequest(opts: {
  readonly site: string;
  readonly secretKey: Uint8Array;
  readonly method: string;
  readonly path: string;
  readonly body?: Uint8Array;
  readonly now?: number;
}): SignedHeaders {
  const timestamp = String(opts.now ?? Date.now());
  const nonce = randomBytes(16).toString('base64url');
  const sig = ed25519.sign(signingString(opts.method, opts.path, opts.body ?? EMPTY, timestamp, nonce, opts.site), opts.secretKey);
  return {
    [HEADER_SITE]: opts.site,
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: nonce,
    [HEADER_SIGNATURE]: Buffer.from(sig).toString('base64'),
  };
}

export function verifySignature(publicKey: Uint8Array, signatureB64: string, message: Uint8Array): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.byteLength !== 64) return false;
  try {
    return ed25519.verify(new Uint8Array(sig), message, publicKey);
  } catch {
    return false;
  }
}

/** Decodes a base64 ed25519 public key (32 bytes), naming where it came from on failure. */
export function parsePublicKey(b64: string, where: string): Uint8Array {
  const buf = Buffer.from(b64.trim(), 'base64');
  if (buf.byteLength !== 32 || buf.toString('base64') !== b64.trim()) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `${where} is not a base64 ed25519 public key (32 bytes)`, {
      where: { path: where },
      hint: 'print a site\'s public key with `fhirfed aggregator --keygen <file>` on that site',
    });
  }
  return new Uint8Array(buf);
}

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Reads a key file: one line, the 32-byte ed25519 secret key as base64 (what `--keygen` writes). */
export function loadSigningKey(file: string, where = 'keyFile'): KeyPair {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `cannot read the signing key file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
      where: { file, path: where },
      hint: 'create one with `fhirfed aggregator --keygen <file>` and mount it read-only',
    });
  }
  const buf = Buffer.from(text.trim(), 'base64');
  if (buf.byteLength !== 32) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `the signing key file ${file} does not hold a base64 32-byte ed25519 secret key`, {
      where: { file, path: where },
      hint: 'regenerate it with `fhirfed aggregator --keygen <file>`',
    });
  }
  const secretKey = new Uint8Array(buf);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Creates a key pair; writes the secret key to `file` (mode 0600) when given. */
export function generateKeyPair(file?: string): KeyPair {
  const { secretKey, publicKey } = ed25519.keygen();
  if (file) writeFileSync(file, `${Buffer.from(secretKey).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { secretKey, publicKey };
}

export const publicKeyBase64 = (k: KeyPair | Uint8Array): string => Buffer.from(k instanceof Uint8Array ? k : k.publicKey).toString('base64');
