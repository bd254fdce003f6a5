import * as paillier from 'paillier-bigint';
import { beforeAll, describe, expect, it } from 'vitest';
import { MaskingCodec, PaillierUpdateCodec, PlainCodec, type AggregatorSession, type SiteSession, type UpdateCodec } from '../../src/secagg/codec.js';
import { PaillierCodec } from '../../src/secagg/paillier.js';
import { federation, maxAbsDiff, randomUpdate } from './harness.js';

// 1024-bit keys keep the suite fast; the packing arithmetic is the same at 2048 (the bench uses 2048).
let keys: paillier.KeyPair;
beforeAll(async () => {
  keys = await paillier.generateRandomKeys(1024, true);
});

function plainSum(updates: Iterable<Float32Array>, len: number): Float64Array {
  const s = new Float64Array(len);
  for (const u of updates) u.forEach((x, i) => (s[i] = (s[i] as number) + x));
  return s;
}

describe('Paillier codec', () => {
  it('documents the packing: slot width and slots per ciphertext', () => {
    const c16 = new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 16 });
    expect(c16.slotBits).toBe(36);
    expect(c16.slotsPerCiphertext).toBe(Math.floor((keys.publicKey.bitLength - 2) / 36));
    expect(new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 256 }).slotBits).toBe(40);
  });

  it('the sum of encrypted packed updates, added without the private key, decrypts to the plain sum', () => {
    const len = 301;
    const codec = new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 16 });
    codec.precompute(codec.ciphertextsFor(len));
    expect(codec.precomputed).toBe(codec.ciphertextsFor(len));
    const updates = Array.from({ length: 5 }, () => randomUpdate(len, 3));
    const payloads = updates.map((u) => JSON.parse(JSON.stringify(codec.encrypt(u))) as unknown);
    expect(codec.precomputed).toBe(0); // the first update used the pool; later ones computed r^n on demand
    // The aggregator's codec object is built from the public key alone.
    const aggregator = new PaillierCodec({ publicKey: new paillier.PublicKey(keys.publicKey.n, keys.publicKey.g), maxSummands: 16 });
    const sum = aggregator.add(payloads);
    expect(sum.count).toBe(5);
    const decoded = codec.decrypt(sum, keys.privateKey);
    expect(maxAbsDiff(decoded, plainSum(updates, len))).toBeLessThanOrEqual(5 * 2 ** -17 + 1e-5);
  });

  it('the precomputed fast path is bit-identical to the library encrypt(m, r) for the same r', () => {
    const codec = new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 4 });
    codec.precompute(1);
    const payload = codec.encrypt(Float32Array.from([1.25, -2.5, 0]));
    const c = BigInt(`0x${payload.ciphertexts[0] as string}`);
    const r = keys.privateKey.getRandomFactor(c);
    const m = keys.privateKey.decrypt(c);
    expect(keys.publicKey.encrypt(m, r)).toBe(c);
  });

  it('rejects a value outside the range and a malformed payload', () => {
    const codec = new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 4 });
    expect(() => codec.encrypt(Float32Array.from([40_000]))).toThrow(/outside the Paillier fixed-point range/);
    expect(() => codec.add([{ v: 1, scheme: 'paillier', length: 3, count: 1, ciphertexts: ['xyz'] }])).toThrow(/invalid Paillier payload 0: ciphertexts.0/);
  });
});

/** Drives any UpdateCodec through a round the way federation code would: route messages, advance steps. */
async function driveRound(codec: UpdateCodec, updates: Map<string, Float32Array>, dropAfterFirst: readonly string[] = []) {
  const sites = [...updates.keys()];
  const sessions = new Map<string, SiteSession>(sites.map((s) => [s, codec.siteSession(s, updates.get(s) as Float32Array)]));
  const agg: AggregatorSession = codec.aggregatorSession(sites);
  let inbox = new Map<string, unknown>(sites.map((s) => [s, undefined]));
  for (let step = 0; step < 10; step++) {
    for (const [site, msg] of inbox) {
      if (step > 0 && dropAfterFirst.includes(site)) continue;
      const out = await (sessions.get(site) as SiteSession).next(msg === undefined ? undefined : JSON.parse(JSON.stringify(msg)));
      if (out !== null) agg.receive(site, JSON.parse(JSON.stringify(out)));
    }
    const adv = await agg.advance();
    if (adv.kind === 'done') return adv;
    inbox = new Map(adv.messages);
  }
  throw new Error('round did not finish');
}

describe('UpdateCodec: federation code is the same for every scheme', () => {
  const len = 64;
  it.each(['plain', 'masking', 'paillier'] as const)('%s: the round yields the plain sum', async (scheme) => {
    const fed = federation(4);
    const updates = new Map(fed.ids.map((id) => [id, randomUpdate(len)]));
    let codec: UpdateCodec;
    if (scheme === 'plain') codec = new PlainCodec(len);
    else if (scheme === 'masking') codec = new MaskingCodec('round-7', fed.roster, { vectorLength: len, maxDropouts: 1 }, (id) => fed.keys.get(id) as Uint8Array);
    else codec = new PaillierUpdateCodec(new PaillierCodec({ publicKey: keys.publicKey, maxSummands: 4 }), { privateKey: keys.privateKey });
    expect(codec.scheme).toBe(scheme);
    const done = await driveRound(codec, updates);
    expect(done.contributors).toEqual(fed.ids);
    expect(maxAbsDiff(done.sum, plainSum(updates.values(), len))).toBeLessThanOrEqual(4 * 2 ** -17 + 1e-5);
  });

  it('masking through the codec contract survives a site that stops after advertising', async () => {
    const fed = federation(5);
    const updates = new Map(fed.ids.map((id) => [id, randomUpdate(len)]));
    const codec = new MaskingCodec('round-8', fed.roster, { vectorLength: len, maxDropouts: 1 }, (id) => fed.keys.get(id) as Uint8Array);
    const done = await driveRound(codec, updates, ['site-03']);
    expect(done.contributors).toEqual(fed.ids.filter((s) => s !== 'site-03'));
    updates.delete('site-03');
    expect(maxAbsDiff(done.sum, plainSum(updates.values(), len))).toBeLessThanOrEqual(5 * 2 ** -17 + 1e-5);
  });
});
