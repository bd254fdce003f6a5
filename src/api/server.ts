import type { Server } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { FhirfedError } from '../core/errors.js';
import { createRedis, pingRedis } from '../infra/redis.js';
import { createApp } from './app.js';
import { Ledger } from '../ingest/ledger/index.js';
import { startMllpListener, type MllpListener } from '../ingest/mllp/index.js';
import { fhirIngestRouter } from './routes/fhir-ingest.js';

export interface RunningGateway {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/** Wires the gateway's HTTP side: Redis probe, app, listener. Later layers (ingest, training) attach here. */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const redis = createRedis(config.redis.url, 'probe');
  // --- ingest (issue 4): the ledger behind POST /fhir and, when mllp.enabled, the MLLP listener ---
  const ledger = Ledger.open({ dataDir: config.storage.dataDir });
  const app = createApp({
    config,
    logger,
    checks: [{ name: 'redis', check: () => pingRedis(redis) }],
    routers: [{ path: '/fhir', router: fhirIngestRouter({ config, ledger, logger }) }],
  });
  let mllp: MllpListener | undefined;
  if (config.mllp.enabled) {
    try {
      mllp = await startMllpListener({ config, ledger, logger });
    } catch (e) {
      ledger.close();
      redis.disconnect();
      throw e;
    }
  }
  // --- end ingest ---
  const server = app.listen(config.server.port, config.server.host);
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
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  logger.info({ port, site: config.site.id }, 'gateway listening');
  return {
    server,
    port,
    close: async () => {
      await mllp?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      ledger.close();
      redis.disconnect();
    },
  };
}
