/**
 * The HTTP apps under fuzz, started inside a worker thread (see http-fuzz.ts): the gateway (health, metrics,
 * POST /fhir, GET /status) and two aggregators (plain codec and masking relay). Running them off the test thread
 * means a handler stuck in a synchronous loop cannot also freeze the client's per-request timeout, and a crash
 * ends the worker, which the test sees.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createApp } from '../../../src/api/app.js';
import { startAggregator } from '../../../src/api/routes/aggregator-server.js';
import { fhirIngestRouter } from '../../../src/api/routes/fhir-ingest.js';
import { statusRouter, summarizeQueue } from '../../../src/api/routes/status.js';
import { configSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/core/logger.js';
import { parseAggregatorConfig } from '../../../src/federation/aggregator/config.js';
import { OperatorTokens } from '../../../src/federation/auth.js';
import { Ledger } from '../../../src/ingest/ledger/index.js';

export interface ServersData {
  readonly dir: string;
  /** Base64 ed25519 public keys of the signing sites. */
  readonly sites: readonly { readonly id: string; readonly publicKey: string }[];
  readonly aggregatorPublicKey: string;
  readonly operatorToken: string;
  readonly bodyLimitBytes: number;
}

export interface ServersReady {
  readonly type: 'ready';
  readonly gateway: number;
  readonly plain: number;
  readonly masking: number;
}

const data = workerData as ServersData;
const port = parentPort;
if (!port) throw new Error('servers must run in a worker thread');

const ledger = Ledger.open({ dataDir: join(data.dir, 'gateway') });
const config = configSchema.parse({ site: { id: 'site-a' }, storage: { dataDir: join(data.dir, 'gateway') }, server: { bodyLimitBytes: data.bodyLimitBytes } });
const gatewayApp = createApp({
  config,
  logger: silentLogger,
  routers: [
    { path: '/fhir', router: fhirIngestRouter({ config, ledger, logger: silentLogger }) },
    {
      path: '/status',
      router: statusRouter({
        aggregatorPublicKey: new Uint8Array(Buffer.from(data.aggregatorPublicKey, 'base64')),
        operatorTokens: new OperatorTokens([{ token: data.operatorToken, scopes: ['status'] }]),
        providers: {
          site: 'site-a',
          modelVersion: () => 'v1',
          queue: () => summarizeQueue({ counts: { waiting: 0, active: 0 }, active: [] }),
          data: () => ({ rows: 10, fillRate: 0.9, plausibilityFailureRate: 0, labelPrevalence: { y: 0.5 } }),
        },
      }),
    },
  ],
});
const gateway = gatewayApp.listen(0, '127.0.0.1');
await new Promise((r) => gateway.once('listening', r));

mkdirSync(join(data.dir, 'agg'), { recursive: true });
const tokens = join(data.dir, 'agg', 'operator-tokens');
writeFileSync(tokens, `${data.operatorToken} admin,status\n`);
const aggregator = (codec: 'plain' | 'masking') =>
  startAggregator(
    parseAggregatorConfig({
      server: { host: '127.0.0.1', port: 0, bodyLimitBytes: data.bodyLimitBytes },
      log: { level: 'silent' },
      dataDir: join(data.dir, 'agg', codec),
      operatorTokensFile: tokens,
      pollSeconds: 0,
      sites: data.sites.map((s) => ({ id: s.id, publicKey: s.publicKey })),
      task: { name: 'diabetes', codec, minSites: 2, deadlineSeconds: 300, model: { parameters: 4 } },
    }),
    silentLogger,
  );
const plain = await aggregator('plain');
const masking = await aggregator('masking');

const ready: ServersReady = { type: 'ready', gateway: (gateway.address() as AddressInfo).port, plain: plain.port, masking: masking.port };
port.postMessage(ready);
port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  void (async () => {
    await plain.close();
    await masking.close();
    await new Promise<void>((r) => gateway.close(() => r()));
    gateway.closeAllConnections();
    ledger.close();
    port.postMessage({ type: 'closed' });
  })();
});
