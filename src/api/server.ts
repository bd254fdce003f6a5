import type { Server } from 'node:http';
import { createRoutableServer } from './url-guard.js';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { FhirfedError } from '../core/errors.js';
import { createRedis, pingRedis } from '../infra/redis.js';
import { Ledger } from '../ingest/ledger/index.js';
import { startMllpListener, type MllpListener } from '../ingest/mllp/index.js';
import { Router, type RequestHandler } from 'express';
import { MemoryNonceStore, requireAuth } from '../federation/auth.js';
import { createApp } from './app.js';
import { AuditLog } from './audit.js';
import { loadOperatorTokens } from './wiring/tokens.js';
import { fhirIngestRouter } from './routes/fhir-ingest.js';
import { createSiteRuntime, type SiteRuntime } from './wiring/runtime.js';

export interface RunningGateway {
  readonly server: Server;
  readonly port: number;
  readonly mllpPort?: number;
  close(): Promise<void>;
}

export interface GatewayRoles {
  /** HTTP API, ingest (POST /fhir, MLLP), FHIR pull and the round follower. @defaultValue true */
  readonly api?: boolean;
  /** Consume training jobs in this process. @defaultValue false (a separate `fhirfed worker`) */
  readonly worker?: boolean;
}

async function listen(server: Server, config: Config): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot listen on ${config.server.host}:${config.server.port} (${e.code ?? e.message})`, {
          where: { path: 'server.port' },
          hint: e.code === 'EADDRINUSE' ? 'another process uses this port: pick another with FHIRFED_SERVER_PORT' : 'check server.host',
        }),
      ),
    );
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : config.server.port;
}

/**
 * POST /fhir behind operator bearer tokens with scope `ingest` (an interface engine's token). Without an operator
 * tokens file every request is refused: ingest over HTTP is closed unless an operator opens it.
 */
function ingestRouter(config: Config, ledger: Ledger, logger: Logger): Router {
  return Router().use(operatorGuard(config, 'ingest'), fhirIngestRouter({ config, ledger, logger }));
}

/** Operator bearer tokens with `scope` (or `*`); without an operator tokens file nothing passes. */
function operatorGuard(config: Config, scope: string): RequestHandler {
  const tokens = loadOperatorTokens(config);
  return requireAuth({ resolveKey: () => undefined, allowSites: false, nonces: new MemoryNonceStore(), operatorScope: scope, ...(tokens ? { operatorTokens: tokens } : {}) });
}

/**
 * Wires one site's processes: the api role (health, metrics, /status, POST /fhir, MLLP, pull, round follower) and
 * the worker role (training jobs), in one process or two. Both serve /healthz, /readyz and /metrics.
 */
export async function startGateway(config: Config, logger: Logger, roles: GatewayRoles = {}): Promise<RunningGateway> {
  const api = roles.api ?? true;
  const worker = roles.worker ?? false;
  const redis = createRedis(config.redis.url, 'probe');
  const ledger = Ledger.open({ dataDir: config.storage.dataDir });
  const closers: (() => Promise<void> | void)[] = [() => ledger.close(), () => redis.disconnect()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const runtime: SiteRuntime = await createSiteRuntime(config, logger, { ledger, worker, follow: api });
    closers.push(() => runtime.close());
    const app = createApp({
      audit: new AuditLog(join(config.storage.dataDir, 'audit.log')),
      config,
      logger,
      metricsAuth: operatorGuard(config, 'metrics'),
      rateLimit: true,
      checks: [{ name: 'redis', check: () => pingRedis(redis) }, ...runtime.checks],
      routers: [...(api ? [{ path: '/fhir', router: ingestRouter(config, ledger, logger) }] : []), ...runtime.routers],
    });
    let mllp: MllpListener | undefined;
    if (api && config.mllp.enabled) {
      mllp = await startMllpListener({ config, ledger, logger });
      closers.push(() => mllp?.close());
    }
    const server = createRoutableServer(app).listen(config.server.port, config.server.host);
    closers.push(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    });
    const port = await listen(server, config);
    await runtime.start();
    logger.info({ port, site: config.site.id, roles: { api, worker }, ...(mllp ? { mllpPort: mllp.port } : {}) }, 'gateway listening');
    return { server, port, ...(mllp ? { mllpPort: mllp.port } : {}), close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
