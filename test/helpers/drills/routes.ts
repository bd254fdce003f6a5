/**
 * Lists every route an express 5 app serves, by walking its router stack (mounted routers included), so a
 * security test covers routes added later without anyone updating a list.
 */
import type { Server } from 'node:http';

export interface RouteEntry {
  readonly method: string;
  /** Express path template, e.g. `/console/ingest/replay/:id`. */
  readonly path: string;
}

interface Layer {
  readonly name?: string;
  readonly rawPath?: unknown;
  readonly route?: { path: unknown; methods: Record<string, boolean> };
  readonly handle?: { stack?: Layer[] } & ((...a: unknown[]) => unknown);
}

const join = (a: string, b: string): string => `${a.replace(/\/$/, '')}/${b.replace(/^\//, '')}`.replace(/\/+$/, '') || '/';

function walk(stack: readonly Layer[], prefix: string, out: RouteEntry[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? (layer.route.path as string[]) : [String(layer.route.path)];
      for (const p of paths) for (const m of Object.keys(layer.route.methods)) out.push({ method: m.toUpperCase(), path: join(prefix, p) });
    } else if (layer.handle?.stack) {
      // A mounted router (or a whole app: express 5 apps expose their router's stack the same way).
      walk(layer.handle.stack, typeof layer.rawPath === 'string' ? join(prefix, layer.rawPath) : prefix, out);
    } else if (typeof layer.handle === 'function' && (layer.handle as unknown as { router?: { stack: Layer[] } }).router) {
      // An express app mounted inside another app (the aggregator mounts the gateway-style app this way).
      walk((layer.handle as unknown as { router: { stack: Layer[] } }).router.stack, typeof layer.rawPath === 'string' ? join(prefix, layer.rawPath) : prefix, out);
    }
  }
}

/** The express app behind a listening server (its 'request' listener, possibly wrapped by the URL guard). */
export function routesOf(server: Server): RouteEntry[] {
  type AppLike = { router?: { stack: Layer[] }; app?: AppLike };
  const listener = server.listeners('request')[0] as unknown as AppLike | undefined;
  // The listener is the express app, or the URL guard wrapping it (src/api/url-guard.ts exposes it as `.app`).
  const app = listener?.router ? listener : listener?.app;
  if (!app?.router) throw new Error('the server has no express app as its request listener');
  const out: RouteEntry[] = [];
  walk(app.router.stack, '', out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const k = `${r.method} ${r.path}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A concrete URL path for a template: every `:param` (and `*splat`) becomes a harmless value. */
export function concretePath(template: string): string {
  return template.replace(/:(\w+)/g, 'x1').replace(/\*(\w+)/g, 'x1').replace(/[{}]/g, '');
}
