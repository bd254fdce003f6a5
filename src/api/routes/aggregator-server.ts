/**
 * Wires the aggregator service: state store, codec, strategy, round engine, status poller and the HTTP app. The
 * auth guard sits in front of the whole app, so everything except /healthz (including /readyz and /metrics)
 * needs a site signature or an operator token.
 */
import { createRoutableServer } from '../url-guard.js';
import type { Server } from 'node:http';
import express from 'express';
import { configSchema } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { createRedis } from '../../infra/redis.js';
import type { AggregatorConfig } from '../../federation/aggregator/config.js';
import { StatusPoller } from '../../federation/aggregator/poller.js';
import { RoundEngine } from '../../federation/aggregator/rounds.js';
import { AggregatorStore } from '../../federation/aggregator/store.js';
import { jsonWithRawBody, MemoryNonceStore, OperatorTokens, RedisNonceStore, requireAuth, type NonceStore } from '../../federation/auth.js';
import { PlainCodec, RelayOnlyDecoder, type UpdateDecoder } from '../../federation/codec.js';
import { AGGREGATOR_SIGNER, loadSigningKey } from '../../federation/signing.js';
import { createStrategy } from '../../federation/strategies/index.js';
import { createApp, securityHeaders } from '../app.js';
import { rateLimiter } from '../rate-limit.js';
import { errorHandler } from '../error-handler.js';
import { aggregatorRouter } from './aggregator.js';
import { aggregatorConsoleRouter } from '../../console/index.js'; // console (issue 11)
import { federationView } from '../../federation/aggregator/view.js'; // console (issue 11)
import { secaggRouter } from './aggregator-secagg.js';

export interface RunningAggregator {
  readonly server: Server;
  readonly port: number;
  readonly engine: RoundEngine;
  readonly poller: StatusPoller | undefined;
  close(): Promise<void>;
}

export interface AggregatorOverrides {
  /** Secure-aggregation decoders by scheme; `plain` is built in. */
  readonly decoders?: Partial<Record<'masking' | 'paillier', UpdateDecoder>>;
}

function decoderFor(config: AggregatorConfig, overrides: AggregatorOverrides): UpdateDecoder {
  if (config.task.codec === 'plain') return new PlainCodec();
  // Both secure schemes run through the relay (/v1/secagg); no update arrives as a single payload.
  return overrides.decoders?.[config.task.codec] ?? new RelayOnlyDecoder(config.task.codec);
}

export async function startAggregator(config: AggregatorConfig, logger: Logger, overrides: AggregatorOverrides = {}): Promise<RunningAggregator> {
  const decoder = decoderFor(config, overrides);
  const strategy = createStrategy(config.task.strategy, config.task.codec);
  const store = new AggregatorStore(config.dataDir);
  const engine = new RoundEngine({ config, store, decoder, strategy, logger });
  await engine.init();

  const key = config.keyFile ? loadSigningKey(config.keyFile, 'keyFile') : undefined;
  const poller =
    key && config.pollSeconds > 0
      ? new StatusPoller({
          targets: () => engine.knownSites().flatMap((site) => {
            const url = engine.statusUrlOf(site);
            return url ? [{ site, url }] : [];
          }),
          signer: { site: AGGREGATOR_SIGNER, secretKey: key.secretKey },
          store,
          intervalMs: config.pollSeconds * 1000,
          logger,
        })
      : undefined;
  if (!key && config.pollSeconds > 0) logger.warn('no keyFile: gateway status polling is off');

  const redis = config.nonces.store === 'redis' ? createRedis(config.nonces.redisUrl, 'probe') : undefined;
  const nonces: NonceStore = redis ? new RedisNonceStore(redis, config.nonces.keyPrefix) : new MemoryNonceStore();
  const operatorTokens = config.operatorTokensFile ? OperatorTokens.fromFile(config.operatorTokensFile) : undefined;
  const guard = requireAuth({ resolveKey: (s) => engine.publicKeyOf(s), nonces, maxSkewMs: config.maxClockSkewSeconds * 1000, ...(operatorTokens ? { operatorTokens } : {}) });

  const appConfig = configSchema.parse({
    site: { id: AGGREGATOR_SIGNER },
    server: { host: config.server.host, port: config.server.port, bodyLimitBytes: config.server.bodyLimitBytes },
    log: { level: config.log.level },
  });
  const inner = createApp({ config: appConfig, logger, routers: [{ path: '/', router: aggregatorRouter(engine, poller) }, { path: '/', router: secaggRouter(engine) }] });
  const app = express();
  app.disable('x-powered-by');
  // Before the guard: refusals (401, 413, 429) carry the security headers too, and floods are throttled unverified.
  app.use(securityHeaders);
  app.use(rateLimiter({ requestsPerSecond: config.server.rateLimitPerSecond, burst: config.server.rateLimitBurst }));
  app.use(jsonWithRawBody(config.server.bodyLimitBytes));
  // console (issue 11): it has its own login form and session cookie, so it is mounted before the signature guard.
  app.use('/console', aggregatorConsoleRouter({ view: () => federationView(engine, poller), logger, ...(operatorTokens ? { operatorTokens } : {}), ...(key ? { sessionSecret: key.secretKey } : {}) }));
  app.use((req, res, next) => (req.path === '/healthz' ? next() : guard(req, res, next)));
  // The inner app's router, not the app: same handlers and settings, and the router stack stays walkable, so the
  // route-enumeration security test sees every aggregator route (test/security/endpoints.test.ts).
  app.use(inner.router);
  app.use(errorHandler(logger));

  const server = createRoutableServer(app).listen(config.server.port, config.server.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot listen on ${config.server.host}:${config.server.port} (${e.code ?? e.message})`, { where: { path: 'server.port' } })),
    );
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  poller?.start();
  logger.info({ port, task: config.task.name, sites: engine.knownSites().length }, 'aggregator listening');
  return {
    server,
    port,
    engine,
    poller,
    close: async () => {
      poller?.stop();
      engine.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      redis?.disconnect();
    },
  };
}
