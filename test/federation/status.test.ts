import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { statusRouter, summarizeQueue } from '../../src/api/routes/status.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { OperatorTokens } from '../../src/federation/auth.js';
import { signedJson } from '../../src/federation/http.js';
import { generateKeyPair, publicKeyBase64 } from '../../src/federation/signing.js';
import { listen, makeSites, tempDir, waitFor } from './fixtures.js';
import { parseAggregatorConfig } from '../../src/federation/aggregator/config.js';

const run = promisify(execFile);
const OPERATOR = 'op-token-aaaaaaaaaaaaaaaaaaaaaaaa';
const tmp = tempDir();
const aggKeyFile = join(tmp.dir, 'aggregator.key');
const aggKeys = generateKeyPair(aggKeyFile);
const [siteA, siteB] = makeSites(['site-a', 'site-b']);
let gateway: Awaited<ReturnType<typeof listen>>;
let agg: RunningAggregator;

beforeAll(async () => {
  const { config } = loadConfig({ env: { FHIRFED_SITE_ID: 'site-a' } });
  const router = statusRouter({
    aggregatorPublicKey: aggKeys.publicKey,
    operatorTokens: new OperatorTokens([{ token: OPERATOR, scopes: ['status'] }]),
    providers: {
      site: 'site-a',
      modelVersion: () => 'v3',
      queue: () => summarizeQueue({ counts: { waiting: 1, active: 1, failed: 0 }, active: [{}] }),
      data: () => ({ rows: 1200, fillRate: 0.93, plausibilityFailureRate: 0.01, labelPrevalence: { diabetes: 0.2 } }),
      privacy: () => {
        throw new Error('accountant unavailable');
      },
      // a provider trying to send a record is cut off by the schema
      round: () => ({ task: 'diabetes', round: 4, state: 'in-progress', patient: 'Jane Doe' }) as never,
    },
  });
  gateway = await listen(createApp({ config, logger: silentLogger, routers: [{ path: '/status', router }] }));
  writeFileSync(join(tmp.dir, 'tokens'), `${OPERATOR} *\n`);
  const cfg = parseAggregatorConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    dataDir: join(tmp.dir, 'agg'),
    keyFile: aggKeyFile,
    operatorTokensFile: join(tmp.dir, 'tokens'),
    pollSeconds: 3600,
    sites: [
      { id: 'site-a', publicKey: publicKeyBase64(siteA?.keys as never), statusUrl: `${gateway.base}/status` },
      // nothing listens on port 9: the poll fails and the view says so
      { id: 'site-b', publicKey: publicKeyBase64(siteB?.keys as never), statusUrl: 'http://127.0.0.1:9/status' },
    ],
    task: { name: 'diabetes', model: { parameters: 2 } },
  });
  agg = await startAggregator(cfg, silentLogger);
});

afterAll(async () => {
  await agg?.close();
  await gateway?.close();
  tmp.cleanup();
});

describe('GET /status and the federation view', () => {
  it('the aggregator polls every gateway and GET /federation shows each site\'s last status', async () => {
    const view = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${agg.port}/federation`, { headers: { authorization: `Bearer ${OPERATOR}` } });
      const body = (await res.json()) as { sites: { id: string; lastStatus: unknown; pollError: string | null; polledAt: string | null }[] };
      return body.sites.every((s) => s.polledAt) ? body : undefined;
    }, 'both sites polled');
    const a = view.sites.find((s) => s.id === 'site-a');
    expect(a?.lastStatus).toMatchObject({
      site: 'site-a',
      health: 'degraded',
      modelVersion: 'v3',
      queue: { counts: { waiting: 1, active: 1, failed: 0 }, active: 1 },
      data: { rows: 1200, fillRate: 0.93 },
      privacy: null,
      round: null,
    });
    expect((a?.lastStatus as { errors: Record<string, string> }).errors.privacy).toBe('accountant unavailable');
    expect((a?.lastStatus as { errors: Record<string, string> }).errors.round).toMatch(/outside the status schema/);
    expect(JSON.stringify(view)).not.toContain('Jane');
    const b = view.sites.find((s) => s.id === 'site-b');
    expect(b?.lastStatus).toBeNull();
    expect(b?.pollError).toMatch(/failed after/);
  });

  it('a site may read /federation with its signature', async () => {
    const res = await signedJson<{ sites: unknown[] }>({ baseUrl: `http://127.0.0.1:${agg.port}`, signer: { site: 'site-a', secretKey: siteA?.keys.secretKey as Uint8Array }, method: 'GET', path: 'federation', what: 'test' });
    expect(res.body?.sites).toHaveLength(2);
  });

  it('GET /status refuses anonymous callers and site keys; accepts the aggregator and operators', async () => {
    expect((await fetch(`${gateway.base}/status`)).status).toBe(401);
    await expect(signedJson({ baseUrl: gateway.base, signer: { site: 'site-b', secretKey: siteB?.keys.secretKey as Uint8Array }, method: 'GET', path: 'status', what: 'test', retry: { attempts: 1 } })).rejects.toMatchObject({ httpStatus: 401 });
    const byAgg = await signedJson<{ site: string }>({ baseUrl: gateway.base, signer: { site: 'aggregator', secretKey: aggKeys.secretKey }, method: 'GET', path: 'status', what: 'test' });
    expect(byAgg.body?.site).toBe('site-a');
  });

  it('`fhirfed status --url --token` prints the report; a wrong token is a clear error', async () => {
    const ok = await run(process.execPath, ['bin/fhirfed.js', 'status', '--url', gateway.base, '--token', OPERATOR], { env: { ...process.env, FHIRFED_LOG_LEVEL: 'silent' } });
    expect(JSON.parse(ok.stdout)).toMatchObject({ type: 'status', site: 'site-a', modelVersion: 'v3' });
    const bad = await run(process.execPath, ['bin/fhirfed.js', 'status', '--url', gateway.base, '--token', 'wrong-token-wrong-token'], { env: process.env }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(77);
    expect((bad as { stderr: string }).stderr).toMatch(/FHIRFED_ERR_UNAUTHENTICATED.*401/);
    expect((bad as { stderr: string }).stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
