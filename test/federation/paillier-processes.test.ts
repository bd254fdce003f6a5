import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrillFederation, type DrillFederation } from '../helpers/drills/federation.js';

/**
 * Paillier through real processes: `fhirfed aggregator` with task.codec paillier and the public key only, two
 * `fhirfed serve --with-worker` gateways, of which only hospital-a holds the private key. Two rounds must complete,
 * every sum decrypted by hospital-a, and the aggregator's files must never hold the private key.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let fed: DrillFederation;

beforeAll(async () => {
  fed = await startDrillFederation({ sites: ['hospital-a', 'hospital-b'], patientsPerSite: 60, rounds: 2, codec: 'paillier', redisUrl: REDIS_URL, privacyMode: 'client' });
}, 180_000);

afterAll(async () => {
  await fed?.close();
});

describe('Paillier secure aggregation between real processes', () => {
  it('completes the rounds; only the key holder decrypts; the aggregator never sees the private key', async () => {
    let done;
    try {
      done = await fed.waitDone(150_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${['hospital-a', 'hospital-b', 'aggregator-0'].map((s) => `--- ${s}\n${fed.log(s).slice(-2500)}`).join('\n')}`);
    }
    expect(done.completedRounds).toBe(2);
    const audit = readFileSync(join(fed.work, 'aggregator', 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { who?: string; what?: string; step?: string; round?: number });
    const relayed = audit.filter((e) => e.what === 'secagg');
    const committed = new Set((done.history ?? []).filter((h) => h.status === 'closed' || h.participants).map((h) => h.round));
    for (const round of committed) {
      const inRound = relayed.filter((e) => e.round === round);
      expect(inRound.filter((e) => e.step === 'ciphertexts').map((e) => e.who).sort(), `round ${round}`).toEqual(['hospital-a', 'hospital-b']);
      expect(inRound.filter((e) => e.step === 'decrypt').map((e) => e.who), `round ${round}`).toEqual(['hospital-a']);
    }
    expect(committed.size).toBeGreaterThanOrEqual(2);
    // The private key's λ and μ appear nowhere on the aggregator's side: not in its config, data or log.
    const priv = JSON.parse(readFileSync(join(fed.work, 'keys', 'paillier', 'paillier.key.json'), 'utf8')) as Record<string, unknown>;
    const secrets = Object.entries(priv).filter(([k, v]) => typeof v === 'string' && (v as string).length > 64 && !['n', 'g'].includes(k)).map(([, v]) => (v as string).slice(0, 64));
    expect(secrets.length).toBeGreaterThan(0);
    const aggSide = [readFileSync(join(fed.work, 'aggregator.yaml'), 'utf8'), readFileSync(join(fed.work, 'aggregator', 'audit.log'), 'utf8'), fed.log('aggregator-0')].join('\n');
    for (const s of secrets) expect(aggSide).not.toContain(s);
    expect(readFileSync(join(fed.work, 'aggregator.yaml'), 'utf8')).toContain('paillier.pub.json');
  }, 200_000);
});
