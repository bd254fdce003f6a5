/**
 * The cryptographic building blocks of pairwise masking, all from audited libraries (@noble/curves X25519,
 * @noble/hashes HKDF-SHA256, @noble/ciphers ChaCha20 and ChaCha20-Poly1305, shamir-secret-sharing): nothing here
 * is a home-made primitive, only how they are wired together and domain-separated.
 *
 * - Pair mask: X25519(s_u, s_v) -> HKDF(info = "mask|round|lo|hi") -> ChaCha20 keystream over the vector
 *   (nonce 0: each key is used for exactly one stream). The lower site id adds it, the higher subtracts it.
 * - Self mask: 32-byte seed b_u (CSPRNG) -> HKDF(info = "self|round|u") -> ChaCha20 keystream.
 * - Share encryption: X25519(c_u, c_v) -> HKDF(info = "share|round|lo|hi") -> ChaCha20-Poly1305 with a random nonce
 *   and AAD "round|from|to", so the relaying aggregator can neither read nor redirect shares.
 */
import { randomBytes } from 'node:crypto';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { secaggError } from './messages.js';

const SALT = new TextEncoder().encode('fhirfed-secagg-v1');
const ZERO_NONCE = new Uint8Array(12);

/** The masks are read as uint32 words straight from keystream bytes; that layout is little-endian only. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const info = (s: string): Uint8Array => new TextEncoder().encode(s);

function pairLabel(kind: string, round: string, a: string, b: string): Uint8Array {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return info(`${kind}|${round}|${lo}|${hi}`);
}

export interface X25519Pair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function newX25519Pair(): X25519Pair {
  const { secretKey, publicKey } = x25519.keygen();
  return { secretKey, publicKey };
}

export function x25519PublicOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/** X25519 agreement; a low-order or malformed public key is a protocol error, not a crash. */
export function agree(secretKey: Uint8Array, peerPublic: Uint8Array, peer: string): Uint8Array {
  try {
    return x25519.getSharedSecret(secretKey, peerPublic);
  } catch {
    throw secaggError(`the X25519 public key of ${peer} is invalid (low order or malformed)`, 'the site must re-advertise fresh keys');
  }
}

/** Writes the ChaCha20 keystream for `key` as `length` uint32 words into `out`. */
export function prgWords(key: Uint8Array, length: number, out: Uint32Array = new Uint32Array(length)): Uint32Array {
  if (!LITTLE_ENDIAN) throw secaggError('secure aggregation masks need a little-endian platform');
  const bytes = new Uint8Array(out.buffer, out.byteOffset, length * 4);
  bytes.fill(0);
  chacha20(key, ZERO_NONCE, bytes, bytes);
  return out;
}

/** Key of the pairwise mask between sites a and b (symmetric in a, b). */
export function pairMaskKey(shared: Uint8Array, round: string, a: string, b: string): Uint8Array {
  return hkdf(sha256, shared, SALT, pairLabel('mask', round, a, b), 32);
}

/** Key of a site's self mask. */
export function selfMaskKey(seed: Uint8Array, round: string, site: string): Uint8Array {
  return hkdf(sha256, seed, SALT, info(`self|${round}|${site}`), 32);
}

/** +1 if `self` adds the pair mask with `peer`, -1 if it subtracts it. */
export function maskSign(self: string, peer: string): 1 | -1 {
  return self < peer ? 1 : -1;
}

function shareKey(shared: Uint8Array, round: string, a: string, b: string): Uint8Array {
  return hkdf(sha256, shared, SALT, pairLabel('share', round, a, b), 32);
}

export function encryptShare(shared: Uint8Array, round: string, from: string, to: string, plaintext: Uint8Array): { nonce: Uint8Array; ct: Uint8Array } {
  const nonce = new Uint8Array(randomBytes(12));
  const ct = chacha20poly1305(shareKey(shared, round, from, to), nonce, info(`${round}|${from}|${to}`)).encrypt(plaintext);
  return { nonce, ct };
}

export function decryptShare(shared: Uint8Array, round: string, from: string, to: string, nonce: Uint8Array, ct: Uint8Array): Uint8Array {
  try {
    return chacha20poly1305(shareKey(shared, round, from, to), nonce, info(`${round}|${from}|${to}`)).decrypt(ct);
  } catch {
    throw secaggError(`the encrypted shares from ${from} to ${to} in round ${round} failed authentication (tampered or misrouted)`);
  }
}

export function randomSeed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
