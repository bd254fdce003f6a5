import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/demo/processes.js';
import { REDIS_URL } from '../federation/fixtures.js';
import { startDrillFederation, type DrillFederation } from '../helpers/drills/federation.js';

/**
 * Drill: the aggregator goes away for a while in the middle of a federation. Two gateway processes keep running,
 * retry with backoff (their logs say so; they do not crash), and once the aggregator is back on the same port
 * with the same data dir the federation finishes without anyone touching the gateways.
 */

const SITES = ['hospital-b', 'demo-hospital-d'];
const OUTAGE_MS = 6000;
let fed: DrillFederation | undefined;

afterAll(async () => {
  await fed?.close();
});

describe('drill: aggregator down for a while', () => {
  it('gateways back off during the outage and the federation completes after the restart', async () => {
    fed = await startDrillFederation({ sites: SITES, patientsPerSite: 50, rounds: 3, codec: 'masking', redisUrl: REDIS_URL, privacyMode: 'client' });
    const f = fed;
    // Mid-federation: the first round is done and the second has opened.
    await waitFor('round 2 to open', async () => {
      const v = await f.view();
      return (v.round?.number ?? 0) >= 2 || v.status === 'done' ? v : undefined;
    }, 90_000);
    const before = await f.view();
    expect(before.status).not.toBe('done');

    f.aggregator.proc.kill('SIGKILL');
    await new Promise<void>((r) => f.aggregator.proc.once('exit', () => r()));
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // The gateways are still up while nobody answers them.
    for (const s of SITES) expect(f.gateways[s]?.proc.exitCode, `${s} exited during the outage:\n${f.log(s).slice(-2000)}`).toBeNull();
    await f.startAggregator();

    let done;
    try {
      done = await f.waitDone(120_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${[...SITES, 'aggregator-1'].map((s) => `--- ${s}\n${f.log(s).slice(-2500)}`).join('\n')}`);
    }
    expect(done.completedRounds).toBe(3);
    for (const s of SITES) {
      expect(f.gateways[s]?.proc.exitCode, s).toBeNull();
      const log = f.log(s);
      // They noticed the outage and kept trying (follower ticks failing with connection errors, then recovering).
      expect(log, s).toMatch(/round follower tick failed|failed after \d+ attempt/);
      expect(log, s).not.toMatch(/"level":(50|60).*unhandled|uncaught/i);
    }
  }, 180_000);
});
