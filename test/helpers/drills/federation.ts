/**
 * A small real federation for drills and the egress test: an aggregator process (`fhirfed aggregator`), one
 * gateway process per site (`fhirfed serve --with-worker`), and each site's FHIR server (src/ingest/fhir/test-server)
 * holding demo data from generateFederation. Unlike `fhirfed demo` the pieces are exposed: the aggregator can be
 * killed and restarted on the same port and data dir, and gateways can be pointed at a recording proxy.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { trainingSpecs } from '../../../src/api/wiring/site.js';
import { demoSiteResources, generateFederation, type DemoSite } from '../../../src/demo/data/index.js';
import { freePort, spawnFhirfed, waitFor, type Child } from '../../../src/demo/processes.js';
import { generateKeyPair, publicKeyBase64 } from '../../../src/federation/signing.js';
import { loadSiteMapping } from '../../../src/harmonize/mapping.js';
import { startFhirServer, type RunningFhirServer } from '../../../src/ingest/fhir/test-server.js';
import { initialModelWeights } from '../../../src/training/index.js';

const MAPPINGS = resolve('mappings');
export const HYPER = { model: 'mlp' as const, hidden: [8], epochs: 3, batchSize: 32, learningRate: 0.02, patience: 4, holdoutFraction: 0.25, seed: 7 };

export interface DrillFederationOptions {
  /** Demo site ids to run (FHIR sites only: hospital-a, hospital-b, demo-hospital-d). */
  readonly sites: readonly string[];
  readonly patientsPerSite: number;
  readonly rounds: number;
  readonly codec: 'masking' | 'plain';
  readonly redisUrl: string;
  /** Where gateways send aggregator traffic (e.g. a proxy started here); default the aggregator itself. */
  readonly gatewayAggregatorUrl?: (aggregatorPort: number) => Promise<string> | string;
  readonly privacyMode?: 'sample' | 'client' | 'off';
  /** Overrides of the local training hyperparameters (e.g. more epochs and no early stop for a long job). */
  readonly hyper?: Partial<typeof HYPER>;
  readonly deadlineSeconds?: number;
  readonly extraGatewayEnv?: Readonly<Record<string, string>>;
}

export interface FederationView {
  status: string;
  completedRounds: number;
  round: { number: number; status: string; selected: string[]; submitted: string[] } | null;
  sites: { id: string; registered: boolean }[];
  history?: { round: number; status?: string; submitted?: string[]; participants?: string[] }[];
}

export interface DrillFederation {
  readonly work: string;
  readonly sites: readonly DemoSite[];
  readonly siteSecrets: Readonly<Record<string, string>>;
  readonly operatorToken: string;
  readonly aggregatorPort: number;
  readonly aggregatorUrl: string;
  aggregator: Child;
  readonly gateways: Record<string, Child>;
  readonly gatewayPorts: Record<string, number>;
  startAggregator(): Promise<void>;
  view(): Promise<FederationView>;
  waitDone(timeoutMs: number): Promise<FederationView>;
  log(name: string): string;
  close(): Promise<void>;
}

export async function startDrillFederation(o: DrillFederationOptions): Promise<DrillFederation> {
  const work = mkdtempSync(join(tmpdir(), 'fhirfed-drill-'));
  const logs = join(work, 'logs');
  mkdirSync(logs, { recursive: true });
  const sites = generateFederation({ seed: 11, patientsPerSite: o.patientsPerSite }).filter((s) => o.sites.includes(s.id));
  const operatorToken = randomBytes(24).toString('hex');
  writeFileSync(join(work, 'operator-tokens'), `${operatorToken} *\n`, { mode: 0o600 });
  const servers: RunningFhirServer[] = [];
  const gateways: Record<string, Child> = {};
  const siteSecrets: Record<string, string> = {};
  const hyper = { ...HYPER, ...o.hyper };

  const loaded = await loadSiteMapping(MAPPINGS, sites[0]?.id ?? 'hospital-a');
  if (!loaded.mapping) throw new Error('the shipped mappings do not load');
  const init = await initialModelWeights(trainingSpecs(loaded.mapping.schema), hyper);
  writeFileSync(join(work, 'initial.f32'), Buffer.from(init.buffer, init.byteOffset, init.byteLength));
  const aggKey = generateKeyPair(join(work, 'aggregator.key'));
  const siteKeys = Object.fromEntries(sites.map((s) => [s.id, generateKeyPair(join(work, `${s.id}.key`))]));
  const gatewayPorts = Object.fromEntries(await Promise.all(sites.map(async (s) => [s.id, await freePort()] as const)));
  const aggregatorPort = await freePort();
  const aggregatorUrl = `http://127.0.0.1:${aggregatorPort}`;
  writeFileSync(
    join(work, 'aggregator.yaml'),
    stringify({
      server: { host: '127.0.0.1', port: aggregatorPort },
      log: { level: 'info' },
      dataDir: join(work, 'aggregator'),
      keyFile: join(work, 'aggregator.key'),
      operatorTokensFile: join(work, 'operator-tokens'),
      pollSeconds: 0,
      sites: sites.map((s) => ({ id: s.id, publicKey: publicKeyBase64(siteKeys[s.id] as never) })),
      task: {
        name: 'drill',
        rounds: o.rounds,
        minSites: sites.length,
        startSites: sites.length,
        deadlineSeconds: o.deadlineSeconds ?? 120,
        codec: o.codec,
        strategy: { name: 'fedavg' },
        evaluation: { metric: 'auroc', patience: 0 },
        hyper: { ...hyper, hidden: [...hyper.hidden] },
        model: { initialFile: join(work, 'initial.f32') },
        ...(o.codec === 'masking' ? { secagg: { maxDropouts: 0, stepSeconds: 60 } } : {}),
      },
    }),
  );

  let aggregator: Child = undefined as unknown as Child;
  let aggStarts = 0;
  const startAggregator = async (): Promise<void> => {
    aggregator = spawnFhirfed(`aggregator-${aggStarts++}`, ['aggregator', '--config', join(work, 'aggregator.yaml')], {}, logs);
    await aggregator.ready;
  };
  const fed: DrillFederation = {
    work,
    sites,
    siteSecrets,
    operatorToken,
    aggregatorPort,
    aggregatorUrl,
    get aggregator() {
      return aggregator;
    },
    set aggregator(c: Child) {
      aggregator = c;
    },
    gateways,
    gatewayPorts,
    startAggregator,
    view: async () => {
      const r = await fetch(`${aggregatorUrl}/federation`, { headers: { authorization: `Bearer ${operatorToken}` } });
      if (!r.ok) throw new Error(`GET /federation: HTTP ${r.status}`);
      return (await r.json()) as FederationView;
    },
    waitDone: (timeoutMs) => waitFor('the federation to finish', async () => {
      const v = await fed.view();
      return v.status === 'done' ? v : undefined;
    }, timeoutMs, 500),
    log: (name) => {
      try {
        return readFileSync(join(logs, `${name}.log`), 'utf8');
      } catch {
        return '';
      }
    },
    close: async () => {
      await Promise.all(Object.values(gateways).map((g) => g.stop()));
      await aggregator?.stop();
      await Promise.all(servers.map((s) => s.close()));
      rmSync(work, { recursive: true, force: true });
    },
  };

  try {
    await startAggregator();
    const gatewayAggUrl = o.gatewayAggregatorUrl ? await o.gatewayAggregatorUrl(aggregatorPort) : aggregatorUrl;
    for (const s of sites) {
      const server = await startFhirServer({ resources: demoSiteResources(s) as never });
      servers.push(server);
      siteSecrets[s.id] = `site-secret-${s.id}-${randomBytes(12).toString('hex')}`;
      const env: NodeJS.ProcessEnv = {
        REDIS_URL: o.redisUrl,
        FHIRFED_SITE_ID: s.id,
        FHIRFED_SITE_SECRET: siteSecrets[s.id],
        FHIRFED_STORAGE_DATA_DIR: join(work, s.id),
        FHIRFED_MAPPINGS_DIR: MAPPINGS,
        FHIRFED_SERVER_HOST: '127.0.0.1',
        FHIRFED_SERVER_PORT: String(gatewayPorts[s.id]),
        FHIRFED_REDIS_KEY_PREFIX: `fhirfed-drill-${process.pid}-${randomBytes(4).toString('hex')}`,
        FHIRFED_LOG_LEVEL: 'info',
        FHIRFED_AGGREGATOR_URL: gatewayAggUrl,
        FHIRFED_AGGREGATOR_KEY_FILE: join(work, `${s.id}.key`),
        FHIRFED_AGGREGATOR_PUBLIC_KEY: publicKeyBase64(aggKey),
        FHIRFED_AGGREGATOR_TASK: 'drill',
        FHIRFED_AGGREGATOR_FOLLOW_SECONDS: '0.5',
        FHIRFED_AGGREGATOR_MIN_ROWS: '10',
        FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(work, 'operator-tokens'),
        FHIRFED_PRIVACY_MODE: o.privacyMode ?? 'client',
        FHIRFED_PRIVACY_EPSILON: '50',
        FHIRFED_PRIVACY_NOISE_MULTIPLIER: '0.5',
        FHIRFED_SECAGG_SCHEME: o.codec,
        FHIRFED_SECAGG_MAX_DROPOUTS: '0',
        FHIRFED_TRAINING_MODEL: hyper.model,
        FHIRFED_TRAINING_HIDDEN: hyper.hidden.join(','),
        FHIRFED_TRAINING_EPOCHS: String(hyper.epochs),
        FHIRFED_TRAINING_BATCH_SIZE: String(hyper.batchSize),
        FHIRFED_TRAINING_HOLDOUT_FRACTION: String(hyper.holdoutFraction),
        FHIRFED_TRAINING_SEED: String(hyper.seed),
        FHIRFED_FHIR_BASE_URL: server.baseUrl,
        FHIRFED_FHIR_PULL: s.transport === 'bulk-ndjson' ? 'bulk' : 'rest',
        ...o.extraGatewayEnv,
      };
      gateways[s.id] = spawnFhirfed(s.id, ['serve', '--with-worker'], env, logs);
    }
    await Promise.all(Object.values(gateways).map((g) => g.ready));
  } catch (e) {
    await fed.close().catch(() => undefined);
    throw e;
  }
  return fed;
}

/** The gateway's /status (operator token). */
export async function gatewayStatus(fed: DrillFederation, site: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${fed.gatewayPorts[site]}/status`, { headers: { authorization: `Bearer ${fed.operatorToken}` } });
  if (!r.ok) throw new Error(`GET /status: HTTP ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}
