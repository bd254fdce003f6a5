import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/demo/processes.js';
import { gatewayStatus, startDrillFederation, type DrillFederation } from '../helpers/drills/federation.js';
import { postsWithField, startRecordingProxy, type RecordingProxy } from '../helpers/drills/proxy.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/drills/redis.js';

/**
 * Drill: the gateway's Redis is killed (SIGKILL) and restarted on the same port while a training job runs. With an
 * append-only Redis (the recommended setting) the job itself survives; with a Redis that keeps nothing the job is
 * gone and the round follower re-creates it from the aggregator's open round. Either way the aggregator receives
 * exactly one update per round from the site: a recording proxy counts the POST /v1/updates on the wire.
 */

const ROUNDS = 2;
let fed: DrillFederation | undefined;
let redis: PrivateRedis | undefined;
let proxy: RecordingProxy | undefined;
let dir: string | undefined;

afterEach(async () => {
  await fed?.close();
  await proxy?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  fed = proxy = redis = dir = undefined;
});

async function drill(persistent: boolean): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-redis-drill-'));
  redis = await startPrivateRedis({ dir, persistent });
  const r = redis;
  fed = await startDrillFederation({
    sites: ['hospital-b'],
    patientsPerSite: 120,
    rounds: ROUNDS,
    codec: 'plain',
    redisUrl: r.url,
    // A job long enough to be caught running: many epochs, no early stop.
    privacyMode: 'off',
    hyper: { epochs: 150, patience: 1000 },
    gatewayAggregatorUrl: async (port) => {
      proxy = await startRecordingProxy(port);
      return `http://127.0.0.1:${proxy.port}`;
    },
  });
  const f = fed;
  // Round 1's training job is running in the worker.
  await waitFor('a running training job', async () => {
    const st = (await gatewayStatus(f, 'hospital-b')) as { queue?: { active?: number } };
    return (st.queue?.active ?? 0) > 0 ? true : undefined;
  }, 90_000, 100);
  await r.kill();
  await new Promise((res) => setTimeout(res, 1500));
  await r.start();

  let done;
  try {
    done = await f.waitDone(120_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${f.log('hospital-b').slice(-4000)}`);
  }
  expect(done.completedRounds).toBe(ROUNDS);
  expect(f.gateways['hospital-b']?.proc.exitCode).toBeNull();
  // One update per round on the wire: no round lost with the job, none sent twice by a retried job.
  const rounds = postsWithField(proxy?.allSent() ?? Buffer.alloc(0), '/v1/updates', 'round');
  expect(rounds.sort()).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1));
}

describe.skipIf(!redisServerAvailable)('drill: Redis restarted mid-training (needs redis-server on PATH)', () => {
  it('append-only Redis: the job survives the restart; exactly one update per round reaches the aggregator', () => drill(true), 180_000);

  it('Redis without persistence: the lost job is re-created from the open round; exactly one update per round', () => drill(false), 180_000);
});
