import { appendFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { RequestHandler } from 'express';
import type { Principal } from '../federation/auth.js';

/**
 * The gateway's audit log: who did what, when — every authenticated request (data access and administrative
 * actions such as ingest, replay, console use, status reads) and every refused attempt. One JSON object per line,
 * appended with O_APPEND (never rewritten); it holds principals, methods, paths and statuses, never bodies or
 * record contents. Query strings are dropped: they could carry search values.
 */
export interface AuditEntry {
  readonly at: string;
  readonly who: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly ip?: string;
}

export class AuditLog {
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  append(entry: AuditEntry): void {
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { flag: 'a' });
  }
}

/** A stable, non-secret id for a bearer token: the first 12 hex digits of its SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}

function whoOf(locals: Record<string, unknown>, authorization: string | undefined): string | undefined {
  const p = locals.principal as Principal | undefined;
  if (p?.kind === 'site') return `site:${p.site}`;
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (p?.kind === 'operator') return `operator:${bearer ? tokenFingerprint(bearer) : 'unknown'}`;
  if (Array.isArray(locals.scopes)) return bearer ? `operator:${tokenFingerprint(bearer)}` : 'operator:console-session';
  return undefined;
}

export function auditMiddleware(log: AuditLog): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      const who = whoOf(res.locals, req.headers.authorization);
      const refused = res.statusCode === 401 || res.statusCode === 403;
      if (!who && !refused) return; // open probes (/healthz, /readyz) are not access to data
      try {
        log.append({
          at: new Date().toISOString(),
          who: who ?? 'anonymous',
          method: req.method,
          path: req.originalUrl.split('?')[0] ?? req.path,
          status: res.statusCode,
          ...(req.ip ? { ip: req.ip } : {}),
        });
      } catch {
        // An audit write failure must not take the API down; the log's absence is visible to operators.
      }
    });
    next();
  };
}
