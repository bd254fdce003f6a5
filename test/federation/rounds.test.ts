import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { silentLogger } from '../../src/core/logger.js';
import { AggregatorClient } from '../../src/federation/client.js';
import { PlainCodec } from '../../src/federation/codec.js';
import { RoundFollower, type TrainingRequest } from '../../src/federation/follower.js';
import { RemoteError } from '../../src/federation/http.js';
import { RoundLedger } from '../../src/federation/ledger.js';
import type { AggregatorConfigInput } from '../../src/federation/aggregator/config.js';
import { aggregatorConfig, makeSites, tempDir, waitFor, type TestSite } from './fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Gateway {
  readonly site: TestSite;
  readonly client: AggregatorClient;
  readonly follower: RoundFollower;
  readonly started: TrainingRequest[];
}

async function setup(task: Partial<AggregatorConfigInput['task']>, ids = ['site-a', 'site-b', 'site-c'], evaluate?: (site: string, version: string) => number) {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const sites = makeSites(ids);
  const agg: RunningAggregator = await startAggregator(aggregatorConfig(join(tmp.dir, 'agg'), sites, task), silentLogger);
  cleanups.push(() => agg.close());
  const base = `http://127.0.0.1:${agg.port}`;
  const gateways: Gateway[] = sites.map((site) => {
    const client = new AggregatorClient({ baseUrl: base, site: site.id, secretKey: site.keys.secretKey, retry: { attempts: 2, baseDelayMs: 10 } });
    const started: TrainingRequest[] = [];
    const follower = new RoundFollower({
      client,
      task: 'diabetes',
      ledger: new RoundLedger(join(tmp.dir, site.id, 'ledger.json')),
      encoder: new PlainCodec(),
      startTraining: async (req) => {
        started.push(req);
      },
      ...(evaluate
        ? { evaluate: async (model) => ({ diabetes: { f1: 0.5, auroc: evaluate(site.id, model.version), n: 100 } }) }
        : {}),
    });
    return { site, client, follower, started };
  });
  return { agg, base, gateways, tmp };
}

const deltaOf = (k: number): Float32Array => Float32Array.from([k, 2 * k, -k, 0.5]);

describe('rounds with in-process gateways', () => {
  it('runs a full round: 3 sites, FedAvg weighted by samples, and never submits twice', async () => {
    const { agg, gateways } = await setup({ rounds: 2 });
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    expect(await a.follower.tick()).toBe('waiting');
    expect(await b.follower.tick()).toBe('waiting');
    expect(await c.follower.tick()).toBe('started');
    expect(await a.follower.tick()).toBe('started');
    expect(await b.follower.tick()).toBe('started');
    expect(await a.follower.tick()).toBe('in-progress');
    const samples = [100, 200, 700];
    for (const [i, g] of gateways.entries()) {
      const req = g.started[0] as TrainingRequest;
      expect(req.round).toBe(1);
      expect(await g.follower.loadGlobal('diabetes', req.modelVersion)).toEqual(new Float32Array(4));
      const outcome = await g.follower.submit({ task: req.task, round: req.round, modelVersion: req.modelVersion, delta: deltaOf(i + 1), numSamples: samples[i] as number });
      expect(outcome).toBe('accepted');
    }
    expect(await a.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(9), numSamples: 1 })).toBe('already-submitted');
    // expected: (100·1 + 200·2 + 700·3) / 1000 = 2.6 per unit
    const model = await a.client.fetchModel('latest');
    expect(model.version).toBe('v1');
    const k = 2.6;
    expect(Array.from(model.weights)).toEqual(Array.from(Float32Array.from([k, 2 * k, -k, 0.5])));
    // the server dedupes too (a site whose ledger was lost)
    const again = await a.client.submitUpdate({ task: 'diabetes', round: 1, modelVersion: 'v0', numSamples: 5, payload: await new PlainCodec().encode({ site: 'site-a', task: 'diabetes', round: 1 }, deltaOf(5)) });
    expect(again).toBe('duplicate');
    const ann = await a.client.currentRound();
    expect(ann).toMatchObject({ round: 2, status: 'open', modelVersion: 'v1', selected: ['site-a', 'site-b', 'site-c'] });
    expect(agg.engine.snapshot().history[0]).toMatchObject({ round: 1, outcome: 'closed', participants: ['site-a', 'site-b', 'site-c'] });
  });

  it('closes at the deadline with minSites, drops a straggler, fails a round below minSites', async () => {
    const { agg, gateways } = await setup({ rounds: 5, minSites: 2, deadlineSeconds: 4, stragglers: 'drop' });
    for (const g of gateways) await g.follower.tick();
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    await a.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(1), numSamples: 10 });
    await b.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(3), numSamples: 10 });
    const closed = await waitFor(() => agg.engine.snapshot().history.find((h) => h.round === 1), 'round 1 to close at its deadline');
    expect(closed).toMatchObject({ outcome: 'closed', participants: ['site-a', 'site-b'], missing: ['site-c'], reason: 'deadline' });
    expect(Array.from((await a.client.fetchModel('v1')).weights)).toEqual([2, 4, -2, 0.5]);
    // the straggler's late update is refused and recorded as final
    expect(await c.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(100), numSamples: 10 })).toBe('refused');
    expect(agg.engine.snapshot().currentVersion).toBe('v1');
    // round 2: only one update arrives -> below minSites at the deadline -> failed, round 3 restarts from v1
    await a.follower.tick();
    await a.follower.submit({ task: 'diabetes', round: 2, modelVersion: 'v1', delta: deltaOf(1), numSamples: 10 });
    const failed = await waitFor(() => agg.engine.snapshot().history.find((h) => h.round === 2), 'round 2 to fail');
    expect(failed.outcome).toBe('failed');
    expect(agg.engine.announcement()).toMatchObject({ round: 3, status: 'open', modelVersion: 'v1' });
  });

  it('counts a late update in the next round when stragglers: next-round', async () => {
    const { agg, gateways } = await setup({ rounds: 5, minSites: 2, deadlineSeconds: 4, stragglers: 'next-round' });
    for (const g of gateways) await g.follower.tick();
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    await a.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(1), numSamples: 10 });
    await b.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(3), numSamples: 10 });
    await waitFor(() => agg.engine.snapshot().history.find((h) => h.round === 1), 'round 1 to close');
    expect(await c.follower.submit({ task: 'diabetes', round: 1, modelVersion: 'v0', delta: deltaOf(6), numSamples: 20 })).toBe('carried');
    // round 2: a and b submit; c's carried update joins: (10·1 + 10·1 + 20·6)/40 = 3.5
    for (const g of [a, b]) {
      await g.follower.tick();
      await g.follower.submit({ task: 'diabetes', round: 2, modelVersion: 'v1', delta: deltaOf(1), numSamples: 10 });
    }
    const h2 = await waitFor(() => agg.engine.snapshot().history.find((h) => h.round === 2), 'round 2 to close');
    expect(h2.carriedIn).toEqual(['site-c@1']);
    const v1 = (await a.client.fetchModel('v1')).weights;
    const v2 = (await a.client.fetchModel('v2')).weights;
    expect(v2[0]).toBeCloseTo((v1[0] as number) + 3.5, 5);
  });

  it('keeps the best model and stops early when the holdout metric stops improving', async () => {
    const scores: Record<string, number> = { v0: 0.6, v1: 0.8, v2: 0.7, v3: 0.75 };
    const { gateways, agg } = await setup({ rounds: 10, evaluation: { metric: 'auroc', patience: 2 } }, ['site-a', 'site-b', 'site-c'], (_site, version) => scores[version] ?? 0);
    for (const g of gateways) await g.client.register();
    for (let round = 1; round <= 10; round++) {
      const ann = await (gateways[0] as Gateway).client.currentRound();
      if (ann?.status === 'done') break;
      for (const g of gateways) {
        expect(await g.follower.tick()).toBe('started');
        await g.follower.submit({ task: 'diabetes', round, modelVersion: ann?.modelVersion as string, delta: deltaOf(0.1), numSamples: 5 });
      }
    }
    const ann = await (gateways[0] as Gateway).client.currentRound();
    // v0 0.6 -> v1 0.8 (best) -> v2 0.7 (1) -> v3 0.75 (2 = patience): stop after the round that scored v3
    expect(ann).toMatchObject({ status: 'done', bestVersion: 'v1' });
    expect(ann?.stopReason).toMatch(/early stopping/);
    expect(agg.engine.snapshot().completedRounds).toBe(4);
    expect(agg.engine.snapshot().best).toEqual({ version: 'v1', metric: 0.8 });
    expect((await (gateways[0] as Gateway).client.fetchModel('best')).version).toBe('v1');
  });

  it('refuses unregistered and wrongly signed updates without changing anything', async () => {
    const { agg, base, gateways } = await setup({ rounds: 2 });
    for (const g of gateways) await g.follower.tick();
    const before = JSON.stringify(agg.engine.snapshot());
    const [intruder] = makeSites(['site-x']);
    const x = new AggregatorClient({ baseUrl: base, site: 'site-x', secretKey: intruder?.keys.secretKey as Uint8Array, retry: { attempts: 1 } });
    const payload = await new PlainCodec().encode({ site: 'site-x', task: 'diabetes', round: 1 }, deltaOf(1));
    await expect(x.submitUpdate({ task: 'diabetes', round: 1, modelVersion: 'v0', numSamples: 1, payload })).rejects.toMatchObject({ httpStatus: 401 });
    // site-a's name with the intruder's key
    const forged = new AggregatorClient({ baseUrl: base, site: 'site-a', secretKey: intruder?.keys.secretKey as Uint8Array, retry: { attempts: 1 } });
    await expect(forged.submitUpdate({ task: 'diabetes', round: 1, modelVersion: 'v0', numSamples: 1, payload })).rejects.toBeInstanceOf(RemoteError);
    const anon = await fetch(`${base}/federation`);
    expect(anon.status).toBe(401);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(JSON.stringify(agg.engine.snapshot())).toBe(before);
    // a wrong-length update from a real site is a validation error, not a crash
    const bad = await new PlainCodec().encode({ site: 'site-a', task: 'diabetes', round: 1 }, new Float32Array(3));
    await expect((gateways[0] as Gateway).client.submitUpdate({ task: 'diabetes', round: 1, modelVersion: 'v0', numSamples: 1, payload: bad })).rejects.toMatchObject({ httpStatus: 422 });
  });
});
