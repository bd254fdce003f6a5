/**
 * A real gateway (api + worker roles, real Redis, real ledger with the demo hospital C's HL7v2 messages and one
 * dead letter, real training jobs) and a real aggregator that has run rounds with evaluations: what the console
 * tests, over HTTP and in the browser, look at.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startAggregator, type RunningAggregator } from '../../src/api/routes/aggregator-server.js';
import { startGateway, type RunningGateway } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { generateFederation } from '../../src/demo/data/index.js';
import { parseAggregatorConfig } from '../../src/federation/aggregator/config.js';
import { AggregatorClient } from '../../src/federation/client.js';
import { PlainCodec } from '../../src/federation/codec.js';
import { RoundFollower } from '../../src/federation/follower.js';
import { RoundLedger } from '../../src/federation/ledger.js';
import { generateKeyPair, publicKeyBase64 } from '../../src/federation/signing.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { Ledger } from '../../src/ingest/ledger/index.js';
import { createTrainingQueue, enqueueTrainingJob } from '../../src/training/index.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TOKEN = `console-${randomBytes(16).toString('hex')}`;
/** A valid operator token without the console scope. */
export const STATUS_TOKEN = `status-${randomBytes(16).toString('hex')}`;
export const SITE = 'demo-hospital-c';

/** One ORU^R01 as hospital C sends it: local codes (99LAB), US units. Glucose 126 mg/dL = 6.994 mmol/L. */
export const SAMPLE_ORU = [
  'MSH|^~\\&|RIVERLAB|DEMO-C|FHIRFED|GATEWAY|202403011030-0500||ORU^R01^ORU_R01|CONSOLE-1|P|2.5.1|||AL|NE||UNICODE UTF-8',
  'PID|1||C900001^^^DEMOC^MR||Sample^Pat||19600115|F',
  'ORC|RE|C900001-L1|C900001-L1F',
  'OBR|1|C900001-L1|C900001-L1F|PANEL^Clinic results^99LAB|||202403011030',
  'OBX|1|NM|GLU^Glucose, serum^99LAB||126|mg/dL^mg/dL^UCUM|70-99||||F|||202403011030',
  'OBX|2|NM|A1C^Hemoglobin A1c^99LAB||7.4|%^%^UCUM|4.0-5.6||||F|||202403011030',
  'OBX|3|NM|CREA^Creatinine, serum^99LAB||0.9|mg/dL^mg/dL^UCUM|0.6-1.3||||F|||202403011030',
  'OBX|4|NM|SBP^Systolic blood pressure^99LAB||900|mm[Hg]^mmHg^UCUM|||||F|||202403011030',
  'OBX|5|NM|XYZ^Unknown test^99LAB||5|mg/dL^mg/dL^UCUM|||||F|||202403011030',
].join('\r');

/** A message type the converter does not support: it becomes a dead letter. */
const DEAD_MESSAGE = 'MSH|^~\\&|RIVERLAB|DEMO-C|FHIRFED|GATEWAY|202403011030||ZZZ^Z01|DEAD-1|P|2.5.1\rPID|1||C1^^^DEMOC^MR';

export interface ConsoleWorld {
  readonly gateway: RunningGateway;
  readonly gatewayBase: string;
  readonly aggregator: RunningAggregator;
  readonly aggregatorBase: string;
  close(): Promise<void>;
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function seedLedger(dataDir: string, dir: string): Promise<void> {
  const [site] = generateFederation({ seed: 11, patientsPerSite: 40 });
  if (site?.id !== SITE) throw new Error('demo federation changed: the first site is no longer hospital C');
  writeFileSync(join(dir, 'messages.hl7'), `${(site.hl7Messages ?? []).join('\r\n')}\r\n`);
  writeFileSync(join(dir, 'dead.hl7'), `${DEAD_MESSAGE}\r\n`);
  const ledger = Ledger.open({ dataDir });
  try {
    await ingestPaths(ledger, [join(dir, 'messages.hl7'), join(dir, 'dead.hl7')]);
  } finally {
    ledger.close();
  }
}

/** Two sites run three plain-codec rounds and evaluate each global version, so the aggregator has a curve. */
async function runRounds(base: string, sites: readonly { id: string; secretKey: Uint8Array }[], dir: string): Promise<void> {
  const followers = sites.map((s, i) => {
    const client = new AggregatorClient({ baseUrl: base, site: s.id, secretKey: s.secretKey, retry: { attempts: 2, baseDelayMs: 10 } });
    const follower = new RoundFollower({
      client,
      task: 'diabetes',
      ledger: new RoundLedger(join(dir, `${s.id}-rounds.json`)),
      encoder: new PlainCodec(),
      startTraining: async () => undefined,
      evaluate: async (model) => {
        const k = Number(model.version.slice(1));
        return {
          drug_response: { f1: 0.5 + 0.06 * k + 0.01 * i, auroc: 0.6 + 0.07 * k, n: 40 + i },
          adverse_event: { f1: 0.3 + 0.05 * k, auroc: 0.55 + 0.05 * k - 0.01 * i, n: 40 + i },
        };
      },
    });
    return { client, follower };
  });
  for (const f of followers) await f.client.register();
  for (let round = 1; round <= 3; round++) {
    const ann = await followers[0]?.client.currentRound();
    for (const f of followers) {
      await f.follower.tick();
      await f.follower.submit({ task: 'diabetes', round, modelVersion: ann?.modelVersion as string, delta: Float32Array.from([0.1, 0.2, -0.1, 0.05]), numSamples: 40 });
    }
  }
  for (const f of followers) await f.follower.tick(); // evaluates the last version
}

export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'fhirfed-console-'));
  const dataDir = join(dir, 'data');
  const prefix = `fhirfed-console-test-${randomBytes(4).toString('hex')}`;
  writeFileSync(join(dir, 'tokens'), `${TOKEN} console\n${STATUS_TOKEN} status\n`);
  writeFileSync(join(dir, 'site.secret'), randomBytes(32).toString('hex'));
  await seedLedger(dataDir, dir);

  const aggKeyFile = join(dir, 'aggregator.key');
  const aggKeys = generateKeyPair(aggKeyFile);
  const { config } = loadConfig({
    env: {
      FHIRFED_SITE_ID: SITE,
      FHIRFED_SITE_SECRET_FILE: join(dir, 'site.secret'),
      FHIRFED_SERVER_HOST: '127.0.0.1',
      FHIRFED_SERVER_PORT: '0',
      FHIRFED_STORAGE_DATA_DIR: dataDir,
      FHIRFED_MAPPINGS_DIR: 'mappings',
      FHIRFED_REDIS_URL: REDIS_URL,
      FHIRFED_REDIS_KEY_PREFIX: prefix,
      FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(dir, 'tokens'),
      FHIRFED_AGGREGATOR_PUBLIC_KEY: publicKeyBase64(aggKeys),
      FHIRFED_TRAINING_EPOCHS: '2',
      FHIRFED_TRAINING_HIDDEN: '[8]',
      FHIRFED_PRIVACY_EPSILON: '30',
      FHIRFED_PRIVACY_NOISE_MULTIPLIER: '4',
      FHIRFED_LOG_LEVEL: 'silent',
    },
  });
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    return await startServices();
  } catch (e) {
    await closeAll();
    throw e;
  }

  async function startServices(): Promise<ConsoleWorld> {
  const gateway = await startGateway(config, silentLogger, { api: true, worker: true });
  cleanups.push(() => gateway.close());
  const gatewayBase = `http://127.0.0.1:${gateway.port}`;

  // Three real local training rounds through the queue: metrics per round and privacy spent for the training page.
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = createTrainingQueue({ connection: redis, prefix: `${prefix}:${SITE}` });
  cleanups.push(async () => {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  for (let round = 1; round <= 3; round++) await enqueueTrainingJob(queue, { task: 'diabetes', round, globalModelVersion: `v${round - 1}` });
  await waitFor(async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    if ((c.failed ?? 0) > 0) throw new Error(`a training job failed: ${(await queue.getFailed(0, 0))[0]?.failedReason ?? '?'}`);
    return (c.completed ?? 0) >= 3 ? true : undefined;
  }, 'three training jobs');

  const other = generateKeyPair();
  const siteKeys = generateKeyPair();
  const aggregator = await startAggregator(
    parseAggregatorConfig({
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      dataDir: join(dir, 'agg'),
      keyFile: aggKeyFile,
      operatorTokensFile: join(dir, 'tokens'),
      pollSeconds: 1,
      sites: [
        { id: SITE, publicKey: publicKeyBase64(siteKeys), statusUrl: `${gatewayBase}/status` },
        { id: 'hospital-b', publicKey: publicKeyBase64(other) },
      ],
      task: { name: 'diabetes', codec: 'plain', minSites: 2, rounds: 10, deadlineSeconds: 300, model: { parameters: 4 } },
    }),
    silentLogger,
  );
  cleanups.push(() => aggregator.close());
  const aggregatorBase = `http://127.0.0.1:${aggregator.port}`;
  await runRounds(aggregatorBase, [{ id: SITE, secretKey: siteKeys.secretKey }, { id: 'hospital-b', secretKey: other.secretKey }], dir);
  await waitFor(async () => (aggregator.poller?.snapshot()[SITE]?.ok ? true : undefined), 'the aggregator to poll the gateway');

  return {
    gateway,
    gatewayBase,
    aggregator,
    aggregatorBase,
    close: closeAll,
  };
  }
}

/** Logs in over HTTP; returns the Cookie header value to send. */
export async function login(base: string, token = TOKEN): Promise<string> {
  const res = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token }) });
  const set = res.headers.get('set-cookie');
  if (res.status !== 303 || !set) throw new Error(`login failed: ${res.status}`);
  return set.split(';')[0] as string;
}

/** The CSRF token in a page's forms. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('no CSRF field on the page');
  return m[1];
}
