import { join } from 'node:path';
import type { Router } from 'express';
import { Redis } from 'ioredis';
import type { Config } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { computeStats } from '../../features/stats.js';
import { AggregatorClient } from '../../federation/client.js';
import { RoundFollower } from '../../federation/follower.js';
import { RoundLedger } from '../../federation/ledger.js';
import { parsePublicKey, loadSigningKey } from '../../federation/signing.js';
import type { QualityStats } from '../../federation/messages.js';
import { bulkExport, pullRest, tokenFromConfig } from '../../ingest/fhir/index.js';
import { readResources, type Ledger } from '../../ingest/ledger/index.js';
import {
  createTrainingQueue,
  createTrainingWorker,
  enqueueTrainingJob,
  evaluateModel,
  getQueueState,
  type TrainingWorkerHandle,
} from '../../training/index.js';
import { statusRouter, summarizeQueue } from '../routes/status.js';
import { consoleRouter, gatewayTrainingProviders } from '../../console/index.js'; // console (issue 11)
import type { ReadinessCheck } from '../app.js';
import { createEncoder } from './codec.js';
import { openSitePrivacy, type SitePrivacy } from './privacy.js';
import { featureStoreRowSource, harmonizeIntoStore, openSite, siteSecret, trainingHyper, type SiteContext } from './site.js';
import { loadOperatorTokens } from './tokens.js';

/**
 * One site's moving parts behind `fhirfed serve` / `fhirfed worker`: harmonization into the feature store, the
 * training queue (and, in the worker role, its consumer), privacy, and the round follower that talks to the
 * aggregator. Everything is built from the frozen config and injected; nothing here is global.
 */
export interface SiteRuntimeOptions {
  readonly ledger: Ledger;
  /** Consume training jobs in this process. */
  readonly worker: boolean;
  /** Follow the aggregator's rounds from this process (the api role). */
  readonly follow: boolean;
}

export interface SiteRuntime {
  readonly routers: readonly { readonly path: string; readonly router: Router }[];
  readonly checks: readonly ReadinessCheck[];
  /** Pull from the FHIR server (when configured) and harmonize the ledger into the feature store. */
  syncFeatures(): Promise<{ rows: number }>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Quality statistics for the aggregator: only aggregates, and none at all below a minimum cohort size. */
const MIN_ROWS_FOR_STATS = 10;
/** How often a site without feature rows re-checks its ledger before joining the rounds. */
const JOIN_RETRY_MS = 2000;

function qualityOf(ctx: SiteContext): QualityStats {
  const rows = ctx.store.all(ctx.site);
  if (rows.length < MIN_ROWS_FOR_STATS) return { rows: rows.length };
  const stats = computeStats(rows, ctx.schema);
  const predictors = ctx.schema.names.filter((n) => !ctx.schema.labels.includes(n));
  const fill = predictors.map((n) => stats.features[n]?.fillRate ?? 0);
  const filled = predictors.reduce((a, n) => a + (stats.features[n]?.filled ?? 0), 0);
  const quarantined = Object.values(stats.quarantine).reduce((a, b) => a + b, 0);
  const labelPrevalence: Record<string, number> = {};
  for (const l of ctx.schema.labels) {
    const f = stats.features[l];
    if (f?.kind === 'categorical' && f.filled > 0) labelPrevalence[l] = ((f.counts.true ?? 0) + (f.counts['1'] ?? 0)) / f.filled;
  }
  const featureMeans: Record<string, number> = {};
  for (const n of predictors) {
    const f = stats.features[n];
    if (f?.kind === 'numeric' && f.mean !== null && f.filled >= MIN_ROWS_FOR_STATS) featureMeans[n] = f.mean;
  }
  return {
    rows: rows.length,
    fillRate: fill.length ? fill.reduce((a, b) => a + b, 0) / fill.length : 0,
    plausibilityFailureRate: filled + quarantined > 0 ? quarantined / (filled + quarantined) : 0,
    labelPrevalence,
    featureMeans,
  };
}

export async function createSiteRuntime(config: Config, logger: Logger, opts: SiteRuntimeOptions): Promise<SiteRuntime> {
  const ctx = await openSite(config);
  for (const w of ctx.warnings) logger.warn({ site: ctx.site }, w);
  const secret = siteSecret(config);
  const privacy: SitePrivacy = await openSitePrivacy(config);
  const hyper = trainingHyper(config);
  const prefix = `${config.redis.keyPrefix}:${ctx.site}`;
  const queueRedis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
  queueRedis.on('error', () => undefined);
  const queue = createTrainingQueue({ connection: queueRedis, prefix });
  const task = config.aggregator.task;
  let modelVersion: string | null = null;

  const pull = async (): Promise<void> => {
    const f = config.fhir;
    if (!f.baseUrl) return;
    const token = tokenFromConfig(config);
    const common = { baseUrl: f.baseUrl, allowedHosts: f.allowedHosts, ledger: opts.ledger, logger, ...(token ? { token } : {}) };
    if (f.pull === 'bulk') await bulkExport({ ...common, resourceTypes: f.resourceTypes, minPollMs: 200 });
    else await pullRest({ ...common, resourceTypes: f.resourceTypes, pageSize: f.pageSize });
  };

  let syncing: Promise<{ rows: number }> | undefined;
  let harmonizedAt = '';
  const syncFeatures = (): Promise<{ rows: number }> => {
    // One sync at a time; concurrent callers share it.
    syncing ??= (async () => {
      try {
        await pull();
        // Re-harmonize only when the ledger changed: every stored resource version arrives with a new message.
        const mark = opts.ledger.db.prepare('SELECT (SELECT MAX(id) FROM messages) AS m, (SELECT COUNT(*) FROM resources) AS r').get() as { m: number | null; r: number };
        const fingerprint = `${mark.m ?? 0}:${mark.r}`;
        if (fingerprint === harmonizedAt) return { rows: ctx.store.count(ctx.site) };
        const { rows, report } = await harmonizeIntoStore(ctx, readResources(opts.ledger), secret);
        harmonizedAt = fingerprint;
        logger.info({ site: ctx.site, resources: report.resources, rows }, 'harmonized the ledger into the feature store');
        return { rows };
      } finally {
        syncing = undefined;
      }
    })();
    return syncing;
  };

  // Federation: only when an aggregator is configured.
  let follower: RoundFollower | undefined;
  if (config.aggregator.url) {
    if (!config.aggregator.keyFile) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'aggregator.url is set but aggregator.keyFile is not', {
        where: { path: 'aggregator.keyFile' },
        hint: 'create a key with `fhirfed aggregator --keygen site.key` and register its public key at the aggregator',
      });
    }
    const key = loadSigningKey(config.aggregator.keyFile, 'aggregator.keyFile');
    const client = new AggregatorClient({ baseUrl: config.aggregator.url, site: ctx.site, secretKey: key.secretKey });
    const roles = [opts.follow ? 'follow' : '', opts.worker ? 'submit' : ''].filter(Boolean).join('-');
    follower = new RoundFollower({
      client,
      task,
      ledger: new RoundLedger(join(config.storage.dataDir, `federation-${roles}.json`)),
      encoder: createEncoder(config, { site: ctx.site, secretKey: key.secretKey, logger }),
      ...(config.aggregator.statusUrl ? { statusUrl: config.aggregator.statusUrl } : {}),
      pollMs: config.aggregator.followSeconds * 1000,
      logger,
      startTraining: async (req) => {
        privacy.assertRoundAffordable();
        await enqueueTrainingJob(queue, { task: req.task, round: req.round, globalModelVersion: req.modelVersion, hyper: { ...hyper, ...req.hyper } });
      },
      evaluate: async (model) => {
        await syncFeatures();
        const rows = await featureStoreRowSource(ctx.store, ctx.schema).loadRows(ctx.site);
        if (rows.length === 0) return undefined;
        modelVersion = model.version;
        const metrics = await evaluateModel({ rows, specs: ctx.specs, weights: model.weights, hyper, logger });
        return Object.fromEntries(
          Object.entries(metrics).map(([h, m]) => [h, { f1: m.f1, auroc: m.auroc, accuracy: m.accuracy, ...(Number.isFinite(m.loss) ? { loss: m.loss } : {}), n: m.n }]),
        );
      },
    });
  }

  let worker: TrainingWorkerHandle | undefined;
  if (opts.worker) {
    const rowSource = featureStoreRowSource(ctx.store, ctx.schema);
    worker = createTrainingWorker({
      connection: config.redis.url,
      prefix,
      site: ctx.site,
      specs: ctx.specs,
      logger,
      rowSource: {
        loadRows: async (site) => {
          await syncFeatures();
          return rowSource.loadRows(site);
        },
      },
      ...(follower ? { globalModels: follower } : {}),
      ...(privacy.dpSgd ? { dpSgd: privacy.dpSgd } : {}),
      ...(privacy.updateHook ? { privacy: privacy.updateHook } : {}),
      onUpdate: async (u) => {
        await privacy.charge(u);
        modelVersion = u.globalModelVersion;
        if (!follower) {
          logger.info({ task: u.task, round: u.round, n: u.numSamples }, 'update ready (no aggregator configured: kept local)');
          return;
        }
        const quality = qualityOf(ctx);
        await follower.submit({ task: u.task, round: u.round, modelVersion: u.globalModelVersion, delta: u.delta, numSamples: u.numSamples, quality });
      },
    });
  }

  const operatorTokens = loadOperatorTokens(config);
  const aggregatorPublicKey = config.aggregator.publicKey ? parsePublicKey(config.aggregator.publicKey, 'aggregator.publicKey') : undefined;
  const status = statusRouter({
    ...(aggregatorPublicKey ? { aggregatorPublicKey } : {}),
    ...(operatorTokens ? { operatorTokens } : {}),
    providers: {
      site: ctx.site,
      modelVersion: () => modelVersion,
      queue: async () => summarizeQueue(await getQueueState(queue)),
      data: () => qualityOf(ctx),
      privacy: () => privacy.status(),
      round: () => follower?.roundState() ?? null,
    },
  });

  // --- console (issue 11): the operator console at /console, api role only (see src/console/README.md) ---
  const consoleRouters = opts.follow
    ? [
        {
          path: '/console',
          router: consoleRouter({
            site: ctx.site,
            ledger: opts.ledger,
            mappingsDir: config.mappings.dir,
            siteSecret: secret,
            sessionSecret: secret,
            logger,
            ...(operatorTokens ? { operatorTokens } : {}),
            training: gatewayTrainingProviders({
              site: ctx.site,
              queue,
              privacy,
              store: ctx.store,
              schema: ctx.schema,
              round: () => follower?.roundState() ?? null,
              modelVersion: () => modelVersion,
            }),
          }),
        },
      ]
    : [];
  // --- end console ---

  let pullTimer: NodeJS.Timeout | undefined;
  let joinTimer: NodeJS.Timeout | undefined;
  let closed = false;
  return {
    routers: [{ path: '/status', router: status }, ...consoleRouters],
    checks: [],
    syncFeatures,
    start: async () => {
      await queueRedis.connect().catch(() => undefined);
      if (opts.follow) {
        // A site joins the federation's rounds once it has harmonized rows to train on: a gateway whose feed has
        // not delivered yet (MLLP, a slow pull) must not be selected and then fail the round.
        const join = async (): Promise<void> => {
          if (closed) return;
          try {
            const { rows } = await syncFeatures();
            if (rows >= config.aggregator.minRows) {
              logger.info({ site: ctx.site, rows }, 'feature rows available: following the federation rounds');
              follower?.start();
              return;
            }
          } catch (e) {
            logger.warn({ code: (e as FhirfedError).code, err: (e as Error).message }, 'sync failed; retrying');
          }
          logger.info({ site: ctx.site, minRows: config.aggregator.minRows }, 'not enough feature rows yet to join the rounds');
          joinTimer = setTimeout(() => void join(), JOIN_RETRY_MS);
        };
        void join();
        if (config.fhir.baseUrl && config.fhir.pullSeconds > 0) {
          pullTimer = setInterval(() => void syncFeatures().catch(() => undefined), config.fhir.pullSeconds * 1000);
        }
      }
    },
    close: async () => {
      closed = true;
      if (pullTimer) clearInterval(pullTimer);
      if (joinTimer) clearTimeout(joinTimer);
      follower?.stop();
      await worker?.close();
      await queue.close();
      queueRedis.disconnect();
      ctx.close();
    },
  };
}

