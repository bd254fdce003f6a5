import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { VERSION } from '../core/version.js';
import { auditMiddleware, type AuditLog } from './audit.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { createMetrics, type HttpMetrics } from './metrics.js';
import { rateLimiter } from './rate-limit.js';

/** A dependency the gateway needs to serve traffic; /readyz is 200 only when all of them pass. */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<{ ok: true } | { ok: false; reason: string }>;
}

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly checks?: readonly ReadinessCheck[];
  readonly metrics?: HttpMetrics;
  /** Feature routers mounted after the health endpoints (status, FHIR ingest, console ...). */
  readonly routers?: readonly { readonly path: string; readonly router: Router }[];
  /**
   * Authentication for GET /metrics (the gateway: an operator token with scope `metrics`). Omit only when the
   * whole app already sits behind a guard (the aggregator); the route-enumeration test checks both apps.
   */
  readonly metricsAuth?: RequestHandler;
  /** Per-client throttling; omit when the caller throttles in front of this app (the aggregator). */
  readonly rateLimit?: boolean;
  /** Append-only audit log of authenticated and refused requests. */
  readonly audit?: AuditLog;
}

/** Headers every response carries, errors included; the console tightens the CSP for its pages. */
export function securityHeaders(_req: express.Request, res: express.Response, next: express.NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'");
  next();
}

/** The express app factory. No listening, no globals: everything it uses comes in `deps`. */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const checks = deps.checks ?? [];
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.server.trustProxy);
  app.use(securityHeaders);
  if (deps.audit) app.use(auditMiddleware(deps.audit));
  if (deps.rateLimit) app.use(rateLimiter({ requestsPerSecond: config.server.rateLimitPerSecond, burst: config.server.rateLimitBurst }));
  app.use((req, res, next) => {
    const end = metrics.duration.startTimer();
    res.on('finish', () => {
      // Route templates, never raw paths: raw paths could carry identifiers and explode label cardinality.
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const r = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : res.statusCode === 404 ? 'unmatched' : req.baseUrl || 'other';
      metrics.requests.inc({ method: req.method, route: r, status: String(res.statusCode) });
      end({ method: req.method, route: r });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: VERSION });
  });

  app.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          return { name: c.name, ...(await c.check()) };
        } catch (e) {
          return { name: c.name, ok: false as const, reason: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not-ready',
      config: 'loaded',
      site: config.site.id,
      checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : r.reason])),
    });
  });

  const metricsAuth: RequestHandler = deps.metricsAuth ?? ((_req, _res, next) => next());
  app.get('/metrics', metricsAuth, async (_req, res, next) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (e) {
      next(e);
    }
  });

  for (const { path, router } of deps.routers ?? []) app.use(path, router);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
