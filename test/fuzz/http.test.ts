/**
 * Fuzz: every HTTP endpoint of the gateway and the aggregator (plain and masking codecs), over real loopback HTTP
 * against the real apps running in a worker thread. Every answer is below 500, every refusal an OperationOutcome;
 * a request left unanswered past the per-case deadline, or a server thread that dies, fails the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyBase64 } from '../../src/federation/signing.js';
import { CASE_TIMEOUT_MS, FUZZ_RUNS, FUZZ_SEED, FUZZ_TEST_TIMEOUT_MS } from './harness/config.js';
import { loadFixtures } from './harness/guarded.js';
import { Tally } from './harness/target.js';
import { tsxWorker } from './harness/tsx-worker.js';
import { agent, checkAnswer, send, type HttpAnswer, type HttpTargets, type Identity } from './http/client.js';
import { requestArb, type RequestSpec, type Server } from './http/requests.js';
import type { ServersData, ServersReady } from './http/servers.js';

const identity = (id: string): Identity & { publicKey: string } => {
  const k = generateKeyPair();
  return { id, secretKey: k.secretKey, publicKey: publicKeyBase64(k) };
};
const sites = [identity('site-a'), identity('site-b')];
const aggregatorId = identity('aggregator');
const OPERATOR = `op-${'f'.repeat(32)}`;

let dir: string;
let worker: Worker;
let targets: HttpTargets;
let died: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-fuzz-http-'));
  const data: ServersData = { dir, sites: sites.map((s) => ({ id: s.id, publicKey: s.publicKey })), aggregatorPublicKey: aggregatorId.publicKey, operatorToken: OPERATOR, bodyLimitBytes: 20_000 };
  worker = tsxWorker(join(import.meta.dirname, 'http/servers.ts'), { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 512 } });
  worker.on('error', (e) => (died = `server thread crashed: ${e.stack ?? e.message}`));
  worker.on('exit', (code) => (died ??= `server thread exited with code ${code}`));
  const ready = await new Promise<ServersReady>((resolve, reject) => {
    worker.once('message', (m: ServersReady) => resolve(m));
    worker.once('error', reject);
  });
  targets = {
    ports: { gateway: ready.gateway, plain: ready.plain, masking: ready.masking },
    signers: { gateway: [aggregatorId], plain: sites, masking: sites },
    stranger: identity('site-zz'),
    operatorToken: OPERATOR,
  };
}, 60_000);

afterAll(async () => {
  agent.destroy();
  if (worker && !died) {
    await new Promise<void>((resolve) => {
      worker.on('message', (m: { type?: string }) => m.type === 'closed' && resolve());
      worker.postMessage('close');
    });
  }
  await worker?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Requests go out in batches of BATCH concurrent ones (one fast-check case each), so the client thread signing and
 * the server thread verifying work at the same time; FUZZ_RUNS counts requests.
 */
const BATCH = 4;

async function fuzz(servers: readonly Server[]): Promise<{ requests: number; endpoints: Record<string, number>; statuses: Record<string, number> }> {
  const endpoints = new Tally();
  const statuses = new Tally();
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(requestArb(servers), { minLength: BATCH, maxLength: BATCH }), async (batch: RequestSpec[]) => {
      if (died) throw new Error(died);
      const answers = await Promise.all(batch.map((spec) => send(spec, targets, CASE_TIMEOUT_MS)));
      batch.forEach((spec, i) => {
        const answer = answers[i] as HttpAnswer;
        checkAnswer(spec, answer);
        endpoints.add(spec.endpoint);
        statuses.add(String(answer.status));
        requests++;
      });
    }),
    { numRuns: Math.ceil(FUZZ_RUNS / BATCH), timeout: CASE_TIMEOUT_MS * 2, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
  );
  if (died) throw new Error(died);
  return { requests, endpoints: endpoints.toJSON(), statuses: statuses.toJSON() };
}

describe('fuzz: HTTP endpoints over loopback', () => {
  it(`gateway: ${FUZZ_RUNS} requests to /healthz, /readyz, /metrics, POST /fhir[/:type], GET /status and random paths`, async () => {
    const r = await fuzz(['gateway']);
    console.log('http gateway', r);
    expect(r.requests).toBeGreaterThanOrEqual(FUZZ_RUNS);
    for (const e of ['POST /fhir', 'POST /fhir/:type', 'GET /status', 'GET /healthz']) expect(r.endpoints[e] ?? 0).toBeGreaterThan(0);
    // Both sides reached: stored resources and refusals.
    expect(r.statuses['201'] ?? 0).toBeGreaterThan(0);
    expect(r.statuses['422'] ?? 0).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`aggregator: ${FUZZ_RUNS} requests to every federation and secure-aggregation route (plain and masking codecs)`, async () => {
    const r = await fuzz(['plain', 'masking']);
    console.log('http aggregator', r);
    expect(r.requests).toBeGreaterThanOrEqual(FUZZ_RUNS);
    for (const e of ['POST /v1/register', 'POST /v1/updates', 'POST /v1/secagg/:task/:round/:step', 'POST /v1/admin/sites']) expect(r.endpoints[e] ?? 0).toBeGreaterThan(0);
    expect(r.statuses['200'] ?? 0).toBeGreaterThan(0);
    expect(r.statuses['401'] ?? 0).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it('replays the stored crashers (test/fixtures/fuzz/http)', async () => {
    for (const f of loadFixtures('http')) {
      const spec = f.input as RequestSpec;
      checkAnswer(spec, await send(spec, targets, CASE_TIMEOUT_MS));
    }
    expect(died).toBeUndefined();
  }, FUZZ_TEST_TIMEOUT_MS);
});
