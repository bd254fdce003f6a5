import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import type { AggregatorConfigInput } from '../../src/federation/aggregator/config.js';
import { AggregatorClient } from '../../src/federation/client.js';
import { RoundFollower, type SubmitResult } from '../../src/federation/follower.js';
import { RoundLedger } from '../../src/federation/ledger.js';
import { MaskingEncoder } from '../../src/federation/secure-client.js';
import { SECURE_STEPS, secaggRoundId, toSecAggParams, weightedVector, type SecureStep } from '../../src/federation/secure-protocol.js';
import { MaskingCodec } from '../../src/secagg/index.js';
import { aggregatorConfig, deltaOf, expectThreeSiteFedAvgRound, expectWithinFixedPoint, fedAvg, makeSites, SECURE_LEN, tempDir, waitFor, type TestSite } from './fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Gateway {
  readonly site: TestSite;
  readonly client: AggregatorClient;
  readonly follower: RoundFollower;
}

const TASK = 'diabetes';
const LEN = SECURE_LEN;

async function setup(task: Partial<AggregatorConfigInput['task']> = {}, ids = ['site-a', 'site-b', 'site-c']) {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const sites = makeSites(ids);
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (d: Buffer) => (logText += d.toString()));
  const dataDir = join(tmp.dir, 'agg');
  const config = aggregatorConfig(dataDir, sites, { codec: 'masking', model: { parameters: LEN }, secagg: { stepSeconds: 2 }, ...task });
  const agg: RunningAggregator = await startAggregator(config, createLogger({ level: 'trace', destination: logs }));
  cleanups.push(() => agg.close());
  const base = `http://127.0.0.1:${agg.port}`;
  const gateways: Gateway[] = sites.map((site) => {
    const client = new AggregatorClient({ baseUrl: base, site: site.id, secretKey: site.keys.secretKey, retry: { attempts: 2, baseDelayMs: 10 } });
    const follower = new RoundFollower({
      client,
      task: TASK,
      ledger: new RoundLedger(join(tmp.dir, site.id, 'ledger.json')),
      encoder: new MaskingEncoder({ signingKey: site.keys.secretKey, pollMs: 25 }),
      startTraining: async () => undefined,
    });
    return { site, client, follower };
  });
  for (const g of gateways) await g.client.register();
  for (const g of gateways) expect(await g.follower.tick()).toBe('started');
  return { agg, base, gateways, dataDir, logs: () => logText };
}


/** |result - expected| <= error of Σw·Δ plus |expected| times error of Σw, over Σw (fixed-point bound). */
/** Runs the protocol by hand for one site and stops after `stopAfter` (a site that crashes mid-round). */
async function runUntil(g: Gateway, round: number, delta: Float32Array, n: number, stopAfter: SecureStep): Promise<void> {
  const info = await g.client.secaggInfo(TASK, round);
  const codec = new MaskingCodec(secaggRoundId(TASK, round, info.session), info.roster, toSecAggParams(info.params), () => g.site.keys.secretKey);
  const session = codec.siteSession(g.site.id, weightedVector(delta, n, info.params, info.selected.length));
  let incoming: unknown;
  for (const step of SECURE_STEPS) {
    await g.client.secaggSend(TASK, round, step, await session.next(incoming));
    if (step === stopAfter) return;
    incoming = await waitFor(async () => {
      const r = await g.client.secaggFetch(TASK, round, step);
      return r.status === 'ready' ? r.message : undefined;
    }, `the ${step} step to close`);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const submit = (g: Gateway, round: number, delta: Float32Array, n: number): Promise<SubmitResult> =>
  g.follower.submit({ task: TASK, round, modelVersion: 'v0', delta, numSamples: n });

describe('secure aggregation by pairwise masking over HTTP', () => {
  it('a masking round with 3 sites equals plain FedAvg, and the aggregator never stores or logs an update', async () => {
    const { agg, gateways, dataDir, logs } = await setup();
    const { deltas, samples } = await expectThreeSiteFedAvgRound({ gateways, submit, history: () => agg.engine.snapshot().history, fetchModel: (v) => (gateways[0] as Gateway).client.fetchModel(v), lastStep: 'unmask' });
    expect(await submit(gateways[0] as Gateway, 1, deltaOf(9), 1)).toBe('already-submitted');
    expect(await (gateways[0] as Gateway).client.currentRound()).toMatchObject({ round: 2, status: 'open', codec: 'masking', modelVersion: 'v1' });

    // Nothing the aggregator wrote or logged contains a site's update, raw or weighted, as bytes or base64.
    const needles: Buffer[] = [];
    deltas.forEach((d, i) => {
      const weighted = Float32Array.from([...d].map((x) => (x * (samples[i] as number)) / 100));
      for (const v of [d, weighted]) {
        const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        needles.push(bytes, Buffer.from(bytes.toString('base64')));
      }
    });
    const files = filesUnder(dataDir);
    expect(files.some((f) => f.includes('updates/1'))).toBe(false);
    for (const f of files) {
      const content = readFileSync(f);
      for (const n of needles) expect(content.includes(n), `${f} holds an individual update`).toBe(false);
    }
    const logText = Buffer.from(logs());
    expect(logText.length).toBeGreaterThan(0);
    for (const n of needles) expect(logText.includes(n)).toBe(false);
    const audit = readFileSync(join(dataDir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const relayed = audit.filter((e) => e.what === 'secagg');
    expect(relayed).toHaveLength(12);
    for (const e of relayed) expect(Object.keys(e).sort()).toEqual(['at', 'bytes', 'round', 'step', 'what', 'who']);
  });

  it('recovers the sum of the survivors when a site drops after the key exchange, before its masked input', async () => {
    const { agg, gateways } = await setup();
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const [ra, rb] = await Promise.all([submit(a, 1, deltaOf(1), 100), submit(b, 1, deltaOf(-2), 300), runUntil(c, 1, deltaOf(50), 500, 'shares')]);
    expect([ra, rb]).toEqual(['accepted', 'accepted']);
    const h = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to close');
    expect(h).toMatchObject({ outcome: 'closed', participants: ['site-a', 'site-b'], missing: ['site-c'] });
    expectWithinFixedPoint((await a.client.fetchModel('v1')).weights, fedAvg([{ delta: deltaOf(1), n: 100 }, { delta: deltaOf(-2), n: 300 }]), 4, 3);
  });

  it('runs with the sites that advertised when one never joins (dropout tolerance lowered to what 2 sites allow)', async () => {
    const { agg, gateways } = await setup({ deadlineSeconds: 3 });
    const [a, b] = gateways as [Gateway, Gateway, Gateway];
    expect(await Promise.all([submit(a, 1, deltaOf(1), 100), submit(b, 1, deltaOf(3), 100)])).toEqual(['accepted', 'accepted']);
    const h = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to close');
    expect(h).toMatchObject({ outcome: 'closed', participants: ['site-a', 'site-b'], missing: ['site-c'] });
    expectWithinFixedPoint((await a.client.fetchModel('v1')).weights, fedAvg([{ delta: deltaOf(1), n: 100 }, { delta: deltaOf(3), n: 100 }]), 2, 2);
  });

  it('keeps the update of a site that drops after sending its masked input (unmasked from the others\' shares)', async () => {
    const { agg, gateways } = await setup();
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    await Promise.all([submit(a, 1, deltaOf(1), 100), submit(b, 1, deltaOf(2), 100), runUntil(c, 1, deltaOf(4), 200, 'masked')]);
    const h = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to close');
    expect(h).toMatchObject({ outcome: 'closed', participants: ['site-a', 'site-b', 'site-c'] });
    expectWithinFixedPoint(
      (await a.client.fetchModel('v1')).weights,
      fedAvg([{ delta: deltaOf(1), n: 100 }, { delta: deltaOf(2), n: 100 }, { delta: deltaOf(4), n: 200 }]),
      4,
      3,
    );
  });

  it('fails the round clearly when fewer than minSites remain, and opens a new round from the same model', async () => {
    const { agg, gateways } = await setup();
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    const results = await Promise.all([submit(a, 1, deltaOf(1), 100), runUntil(b, 1, deltaOf(1), 100, 'advertise'), runUntil(c, 1, deltaOf(1), 100, 'advertise')]);
    // site-a had already sent two steps when the round failed: it reports its part as incomplete
    expect(results[0]).toBe('incomplete');
    const h = await waitFor(() => agg.engine.snapshot().history.find((e) => e.round === 1), 'round 1 to fail');
    expect(h.outcome).toBe('failed');
    expect(h.reason).toMatch(/secure aggregation failed at the shares step: only 1 site\(s\) sent it; minSites is 2/);
    expect(await a.client.currentRound()).toMatchObject({ round: 2, status: 'open', modelVersion: 'v0' });
    await expect(a.client.secaggInfo(TASK, 1)).rejects.toMatchObject({ httpStatus: 409 });
  });

  it('refuses replayed, tampered, foreign and out-of-step relay messages without changing the round', async () => {
    const { agg, base, gateways, dataDir } = await setup();
    const [a, b] = gateways as [Gateway, Gateway, Gateway];
    const info = await a.client.secaggInfo(TASK, 1);
    const sessionOf = (g: Gateway) =>
      new MaskingCodec(secaggRoundId(TASK, 1, info.session), info.roster, toSecAggParams(info.params), () => g.site.keys.secretKey).siteSession(g.site.id, new Float32Array(LEN + 1));
    const adv = (await sessionOf(a).next()) as Record<string, unknown>;
    // an altered advertisement (keys swapped after signing) fails its secagg signature
    await expect(a.client.secaggSend(TASK, 1, 'advertise', { ...adv, cPk: adv.sPk, sPk: adv.cPk })).rejects.toMatchObject({ httpStatus: 422 });
    // a site cannot relay another site's message
    await expect(b.client.secaggSend(TASK, 1, 'advertise', adv)).rejects.toMatchObject({ httpStatus: 403 });
    // bounded in size per step
    await expect(a.client.secaggSend(TASK, 1, 'advertise', { ...adv, pad: 'x'.repeat(300 * 1024) })).rejects.toMatchObject({ httpStatus: 413 });
    // a step that is not open yet
    await expect(a.client.secaggSend(TASK, 1, 'masked', adv)).rejects.toMatchObject({ httpStatus: 409 });
    expect(await a.client.secaggSend(TASK, 1, 'advertise', adv)).toBe('accepted');
    // the same message again (a retry) is accepted once; a different one for the same step is a conflict
    expect(await a.client.secaggSend(TASK, 1, 'advertise', adv)).toBe('duplicate');
    await expect(a.client.secaggSend(TASK, 1, 'advertise', await sessionOf(a).next())).rejects.toMatchObject({ httpStatus: 409 });
    // the exact same signed HTTP request replayed is refused by the request signature layer
    const { signRequest } = await import('../../src/federation/signing.js');
    const path = `/v1/secagg/${TASK}/1/advertise`;
    const body = Buffer.from(JSON.stringify({ v: 1, type: 'secagg', site: 'site-a', task: TASK, round: 1, step: 'advertise', message: adv }));
    const headers = { ...signRequest({ site: 'site-a', secretKey: a.site.keys.secretKey, method: 'POST', path, body }), 'content-type': 'application/json' };
    expect((await fetch(`${base}${path}`, { method: 'POST', headers, body })).status).toBe(200);
    expect((await fetch(`${base}${path}`, { method: 'POST', headers, body })).status).toBe(401);
    // plain updates are refused while the task uses masking
    const plain = { scheme: 'plain' as const, length: LEN, data: Buffer.alloc(LEN * 4).toString('base64') };
    await expect(a.client.submitUpdate({ task: TASK, round: 1, modelVersion: 'v0', numSamples: 1, payload: plain })).rejects.toMatchObject({ httpStatus: 409 });
    expect(agg.engine.secure?.info('site-a', TASK, 1).step).toBe('advertise');
    const audit = readFileSync(join(dataDir, 'audit.log'), 'utf8');
    expect(audit.split('\n').filter((l) => l.includes('"what":"secagg"'))).toHaveLength(1);
  });

  it('abandons a secure round when the aggregator restarts, restarting from the same model', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const sites = makeSites(['site-a', 'site-b', 'site-c']);
    const config = aggregatorConfig(join(tmp.dir, 'agg'), sites, { codec: 'masking' });
    const first = await startAggregator(config, silentLogger);
    const client = new AggregatorClient({ baseUrl: `http://127.0.0.1:${first.port}`, site: 'site-a', secretKey: (sites[0] as TestSite).keys.secretKey, retry: { attempts: 1 } });
    for (const s of sites) await new AggregatorClient({ baseUrl: `http://127.0.0.1:${first.port}`, site: s.id, secretKey: s.keys.secretKey }).register();
    expect(await client.currentRound()).toMatchObject({ round: 1, status: 'open' });
    await first.close();
    const second = await startAggregator(config, silentLogger);
    cleanups.push(() => second.close());
    const h = second.engine.snapshot().history.find((e) => e.round === 1);
    expect(h).toMatchObject({ outcome: 'failed' });
    expect(h?.reason).toMatch(/restarted during this secure-aggregation round/);
    expect(second.engine.announcement()).toMatchObject({ round: 2, status: 'open', modelVersion: 'v0' });
  });

  it('a gateway set up for masking does not train for a round announced with the plain codec', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const sites = makeSites(['site-a', 'site-b']);
    const agg = await startAggregator(aggregatorConfig(join(tmp.dir, 'agg'), sites, { codec: 'plain' }), silentLogger);
    cleanups.push(() => agg.close());
    const started: number[] = [];
    const followers = sites.map(
      (s) =>
        new RoundFollower({
          client: new AggregatorClient({ baseUrl: `http://127.0.0.1:${agg.port}`, site: s.id, secretKey: s.keys.secretKey }),
          task: TASK,
          ledger: new RoundLedger(join(tmp.dir, s.id, 'ledger.json')),
          encoder: new MaskingEncoder({ signingKey: s.keys.secretKey }),
          startTraining: async (req) => {
            started.push(req.round);
          },
        }),
    );
    for (const f of followers) await f.tick();
    expect(await (followers[0] as RoundFollower).tick()).toBe('codec-mismatch');
    expect(started).toEqual([]);
  });

  it('masking is the default codec; robust strategies and adaptive weighting are refused with it', () => {
    const sites = makeSites(['site-a', 'site-b']);
    expect(aggregatorConfig('/tmp/x', sites, { codec: undefined }).task.codec).toBe('masking');
    expect(() => aggregatorConfig('/tmp/x', sites, { codec: 'masking', weighting: { mode: 'adaptive' } })).toThrow(/invalid/);
    return expect(startAggregator(aggregatorConfig(join(tempDir().dir, 'agg'), sites, { codec: 'masking', strategy: { name: 'median' } }), silentLogger)).rejects.toMatchObject({
      code: 'FHIRFED_ERR_CONFIG_INVALID',
    });
  });
});
