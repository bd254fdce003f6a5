import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import type { PrivateKey, PublicKey } from 'paillier-bigint';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { silentLogger } from '../../src/core/logger.js';
import type { AggregatorConfigInput } from '../../src/federation/aggregator/config.js';
import { federationView } from '../../src/federation/aggregator/view.js';
import { AggregatorClient } from '../../src/federation/client.js';
import { RoundFollower, type SubmitResult } from '../../src/federation/follower.js';
import { RoundLedger } from '../../src/federation/ledger.js';
import { PaillierEncoder } from '../../src/federation/paillier-client.js';
import { weightedVector } from '../../src/federation/secure-protocol.js';
import {
  decryptAggregate,
  generatePaillierKeyFiles,
  loadPaillierPrivateKey,
  loadPaillierPublicKey,
  PaillierCodec,
  paillierKeyFingerprint,
  PaillierUpdateCodec,
} from '../../src/secagg/index.js';
import { aggregatorConfig, deltaOf, expectThreeSiteFedAvgRound, makeSites, SECURE_LEN, tempDir, waitFor, type TestSite } from './fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TASK = 'diabetes';
const LEN = SECURE_LEN;
const FRACTIONAL_BITS = 16;

// One 1024-bit key pair for the file (the packing arithmetic is the same at 2048), written by the real key tool.
let keyDir: string;
let publicKey: PublicKey;
let privateKey: PrivateKey;
beforeAll(async () => {
  const tmp = tempDir('fhirfed-paillier-');
  keyDir = tmp.dir;
  await generatePaillierKeyFiles(keyDir, 1024);
  publicKey = loadPaillierPublicKey(join(keyDir, 'paillier.pub.json'), 'test');
  privateKey = loadPaillierPrivateKey(join(keyDir, 'paillier.key.json'), 'test', publicKey);
  return tmp.cleanup;
});

interface Gateway {
  readonly site: TestSite;
  readonly client: AggregatorClient;
  readonly follower: RoundFollower;
  readonly encoder: PaillierEncoder;
}

/** A paillier aggregator and one follower per site; `decrypting` sites hold the private key. */
async function setup(decrypting: readonly string[], task: Partial<AggregatorConfigInput['task']> = {}, ids = ['site-a', 'site-b', 'site-c']) {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const sites = makeSites(ids);
  const dataDir = join(tmp.dir, 'agg');
  const config = aggregatorConfig(dataDir, sites, {
    codec: 'paillier',
    model: { parameters: LEN },
    secagg: { stepSeconds: 2, fractionalBits: FRACTIONAL_BITS, paillierPublicKeyFile: join(keyDir, 'paillier.pub.json') },
    ...task,
  });
  const agg: RunningAggregator = await startAggregator(config, silentLogger);
  cleanups.push(() => agg.close());
  const gateways: Gateway[] = sites.map((site) => {
    const client = new AggregatorClient({ baseUrl: `http://127.0.0.1:${agg.port}`, site: site.id, secretKey: site.keys.secretKey, retry: { attempts: 2, baseDelayMs: 10 } });
    const encoder = new PaillierEncoder({ publicKey, privateKey: decrypting.includes(site.id) ? privateKey : undefined, pollMs: 25 });
    cleanups.push(() => encoder.close());
    const follower = new RoundFollower({ client, task: TASK, ledger: new RoundLedger(join(tmp.dir, site.id, 'ledger.json')), encoder, startTraining: async () => undefined });
    return { site, client, follower, encoder };
  });
  for (const g of gateways) await g.client.register();
  for (const g of gateways) expect(await g.follower.tick()).toBe('started');
  return { agg, gateways, dataDir };
}

const submit = (g: Gateway, round: number, delta: Float32Array, n: number): Promise<SubmitResult> => g.follower.submit({ task: TASK, round, modelVersion: 'v0', delta, numSamples: n });

/** A site's ciphertexts message, made by hand (a site that stops after the first step). */
function ciphertextsMessage(site: string, delta: Float32Array, n: number, canDecrypt: boolean, maxSummands = 3): unknown {
  const vector = weightedVector(delta, n, { vectorLength: LEN + 1, sampleScale: 100, fractionalBits: FRACTIONAL_BITS }, maxSummands);
  return { v: 1, type: 'paillier-ciphertexts', sender: site, canDecrypt, payload: new PaillierCodec({ publicKey, maxSummands, fractionalBits: FRACTIONAL_BITS }).encrypt(vector) };
}

describe('secure aggregation with Paillier over HTTP', () => {
  it('a paillier round with 3 sites equals plain FedAvg; only the chosen site decrypts, the aggregator stores no ciphertext', async () => {
    const { agg, gateways, dataDir } = await setup(['site-c', 'site-b']);
    const [a] = gateways as [Gateway, Gateway, Gateway];
    const info = await a.client.secaggInfo(TASK, 1);
    expect(info).toMatchObject({ scheme: 'paillier', steps: ['ciphertexts', 'decrypt'], minSites: 2, step: 'ciphertexts', roster: {} });
    expect(info.paillier).toEqual({ keyFingerprint: paillierKeyFingerprint(publicKey), maxSummands: 3 });

    await expectThreeSiteFedAvgRound({ gateways, submit, history: () => agg.engine.snapshot().history, fetchModel: (v) => a.client.fetchModel(v), lastStep: 'decrypt' });
    expect(await a.client.currentRound()).toMatchObject({ round: 2, status: 'open', codec: 'paillier', modelVersion: 'v1' });

    // Three ciphertexts, and one decrypt from the first (sorted) site holding the private key.
    const audit = readFileSync(join(dataDir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const relayed = audit.filter((e) => e.what === 'secagg').map((e) => `${String(e.who)}:${String(e.step)}`);
    expect(relayed.sort()).toEqual(['site-a:ciphertexts', 'site-b:ciphertexts', 'site-b:decrypt', 'site-c:ciphertexts']);
    expect(readFileSync(join(dataDir, 'audit.log'), 'utf8')).not.toMatch(/[0-9a-f]{200}/);
    // The encoder refilled its randomness pool for the next round in the background.
    await waitFor(() => (a.encoder.precomputed >= 1 ? true : undefined), 'precomputed randomness');
  });

  it('GET /federation shows which secure step a round is at and who has sent it (names only)', async () => {
    const { agg, gateways } = await setup(['site-a']);
    const [a] = gateways as [Gateway, Gateway, Gateway];
    const round = () => (federationView(agg.engine, undefined).round as { secure?: unknown; submitted: string[] }) ?? {};
    expect(round().secure).toEqual({ step: 'ciphertexts', sent: [], expected: ['site-a', 'site-b', 'site-c'] });
    await a.client.secaggSend(TASK, 1, 'ciphertexts', ciphertextsMessage('site-a', deltaOf(1), 100, true));
    expect(round().secure).toEqual({ step: 'ciphertexts', sent: ['site-a'], expected: ['site-a', 'site-b', 'site-c'] });
    expect(round().submitted).toEqual([]);
    expect(JSON.stringify(round())).not.toMatch(/[0-9a-f]{64}/);
  });

  it('fails the round with a reason naming minSites when fewer sites send ciphertexts', async () => {
    const { agg, gateways } = await setup(['site-a'], { deadlineSeconds: 2 });
    const [a] = gateways as [Gateway, Gateway, Gateway];
    // site-a sent its ciphertexts, then the round failed under it: its part is incomplete.
    expect(await submit(a, 1, deltaOf(1), 100)).toBe('incomplete');
    const h = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to fail');
    expect(h.outcome).toBe('failed');
    expect(h.reason).toMatch(/secure aggregation failed at the ciphertexts step: only 1 site\(s\) sent it; minSites is 2/);
    expect(await a.client.currentRound()).toMatchObject({ round: 2, status: 'open', modelVersion: 'v0' });
  });

  it('fails the round when no sender holds the private key, and when the decrypting site does not answer', async () => {
    const { agg, gateways } = await setup([]);
    expect(await Promise.all(gateways.map((g, i) => submit(g, 1, deltaOf(i + 1), 100)))).toEqual(['incomplete', 'incomplete', 'incomplete']);
    const h1 = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to fail');
    expect(h1.reason).toMatch(/failed at the ciphertexts step: none of the 3 site\(s\) that sent ciphertexts holds the Paillier private key/);

    // Round 2: every site sends ciphertexts by hand, site-b claims it can decrypt, then never answers.
    await waitFor(() => (agg.engine.announcement()?.round === 2 ? true : undefined), 'round 2 to open');
    for (const [i, g] of gateways.entries()) await g.client.secaggSend(TASK, 2, 'ciphertexts', ciphertextsMessage(g.site.id, deltaOf(i + 1), 100, g.site.id === 'site-b'));
    const b = gateways[1] as Gateway;
    const routed = await waitFor(async () => {
      const r = await b.client.secaggFetch(TASK, 2, 'ciphertexts');
      return r.status === 'ready' ? r.message : undefined;
    }, 'the ciphertexts step to close');
    expect(routed).toMatchObject({ type: 'paillier-route', role: 'decrypt', aggregate: { count: 3, length: LEN + 1 } });
    expect(await (gateways[0] as Gateway).client.secaggFetch(TASK, 2, 'ciphertexts')).toMatchObject({ status: 'ready', message: { role: 'wait', decryptor: 'site-b' } });
    // Another site cannot answer the decrypt step in its place.
    await expect((gateways[0] as Gateway).client.secaggSend(TASK, 2, 'decrypt', { v: 1, type: 'paillier-sum', sender: 'site-a', count: 3, data: '' })).rejects.toMatchObject({ httpStatus: 409 });
    const h2 = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 2), 'round 2 to fail');
    expect(h2.outcome).toBe('failed');
    expect(h2.reason).toMatch(/failed at the decrypt step: the decrypting site site-b did not return the decrypted sum/);
  });

  it('refuses messages of the other scheme, of another sender, and a site running under another key', async () => {
    const { gateways } = await setup(['site-a']);
    const [a, b] = gateways as [Gateway, Gateway, Gateway];
    await expect(a.client.secaggSend(TASK, 1, 'advertise', { sender: 'site-a' })).rejects.toMatchObject({ httpStatus: 409 });
    await expect(b.client.secaggSend(TASK, 1, 'ciphertexts', ciphertextsMessage('site-a', deltaOf(1), 1, true))).rejects.toMatchObject({ httpStatus: 403 });
    await expect(a.client.secaggSend(TASK, 1, 'ciphertexts', { v: 1, type: 'paillier-ciphertexts', sender: 'site-a', canDecrypt: true, payload: { v: 1 } })).rejects.toMatchObject({ httpStatus: 422 });
    const other = await (await import('paillier-bigint')).generateRandomKeys(1024, true);
    const stranger = new PaillierEncoder({ publicKey: other.publicKey, precompute: false });
    await expect(stranger.run(a.client, { task: TASK, round: 1, delta: deltaOf(1), numSamples: 1 })).rejects.toMatchObject({ code: 'FHIRFED_ERR_SECAGG', message: expect.stringMatching(/another Paillier public key/) });
  });
});

describe('the decrypting site checks the aggregate', () => {
  const len = LEN + 1;
  const vector = (k: number): Float32Array => Float32Array.from({ length: len }, (_, i) => k * (i - 3) * 0.25);

  it('refuses an aggregate whose count is below minSites (a single site\'s ciphertext), decrypts one that is not', async () => {
    const codec = new PaillierCodec({ publicKey, maxSummands: 3 });
    const single = codec.encrypt(vector(1));
    expect(() => decryptAggregate(codec, privateKey, single, { minSites: 2, length: len })).toThrow(/refusing to decrypt an aggregate of 1 contribution\(s\): the round's minSites is 2/);
    const sum = codec.add([single, codec.encrypt(vector(2))]);
    expect(Array.from(decryptAggregate(codec, privateKey, sum, { minSites: 2, length: len }))).toEqual(Array.from(vector(3)));
    expect(() => decryptAggregate(codec, privateKey, sum, { minSites: 3, length: len })).toThrow(/aggregate of 2 contribution\(s\): the round's minSites is 3/);

    // The same refusal inside a site session: it never returns a decrypted value.
    const session = new PaillierUpdateCodec(codec, { privateKey, minSites: 2 }).siteSession('site-a', vector(1));
    await session.next();
    await expect(session.next({ v: 1, type: 'paillier-route', role: 'decrypt', aggregate: single })).rejects.toMatchObject({ code: 'FHIRFED_ERR_SECAGG' });
  });

  it('a gateway whose aggregator routes back its own ciphertext refuses over HTTP and sends no decrypt step', async () => {
    // A dishonest aggregator on loopback: it answers the relay routes and returns site-a's ciphertexts as the "sum".
    const app = express();
    app.use(express.json({ limit: '10mb' }));
    let own: unknown;
    const posted: string[] = [];
    const info = {
      v: 1, type: 'secagg-round', task: TASK, round: 1, scheme: 'paillier', steps: ['ciphertexts', 'decrypt'], minSites: 1, session: 'session-0001', step: 'ciphertexts',
      deadline: new Date(Date.now() + 60_000).toISOString(), params: { vectorLength: len, maxDropouts: 0, graph: { kind: 'complete' }, fractionalBits: 16, sampleScale: 100 },
      roster: {}, selected: ['site-a', 'site-b'], paillier: { keyFingerprint: paillierKeyFingerprint(publicKey), maxSummands: 2 },
    };
    app.get('/v1/secagg/:task/:round', (_req, res) => void res.json(info));
    app.post('/v1/secagg/:task/:round/:step', (req, res) => {
      const body = req.body as { step: string; message: { payload?: unknown } };
      posted.push(body.step);
      own = body.message.payload;
      res.status(201).json({ status: 'accepted' });
    });
    app.get('/v1/secagg/:task/:round/:step', (req, res) => void res.json({ v: 1, type: 'secagg-relay', round: 1, step: req.params.step, status: 'ready', message: { v: 1, type: 'paillier-route', role: 'decrypt', aggregate: own } }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const site = (makeSites(['site-a']) as [TestSite])[0];
    const client = new AggregatorClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, site: 'site-a', secretKey: site.keys.secretKey, retry: { attempts: 1 } });
    const encoder = new PaillierEncoder({ publicKey, privateKey, pollMs: 10, precompute: false });
    const r = await encoder.run(client, { task: TASK, round: 1, delta: new Float32Array(LEN).fill(0.5), numSamples: 100 });
    expect(r.outcome).toBe('incomplete');
    expect(r.reason).toMatch(/refusing to decrypt an aggregate of 1 contribution\(s\): the round's minSites is 2/);
    expect(posted).toEqual(['ciphertexts']);
  });
});
