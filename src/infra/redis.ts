import { Redis, type RedisOptions } from 'ioredis';
import { FhirfedError } from '../core/errors.js';

/**
 * Redis connections. Two kinds: `probe` connections for health checks and API reads fail fast (no offline queue, so
 * a down Redis answers 503 at once instead of hanging); `worker` connections are what BullMQ needs
 * (maxRetriesPerRequest: null, reconnect forever).
 */
export type RedisRole = 'probe' | 'worker';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `redis.url is not a URL: ${JSON.stringify(url)}`, {
      where: { path: 'redis.url' },
      hint: 'use redis://host:port[/db] or rediss:// for TLS',
    });
  }
  const base: RedisOptions =
    role === 'probe'
      ? {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2000,
          retryStrategy: (times) => Math.min(times * 200, 2000),
        }
      : { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (times) => Math.min(times * 200, 5000) };
  const client = new Redis(parsed.toString(), { ...base, ...extra });
  // Errors surface through readiness checks and job retries; an unhandled 'error' event must not kill the process.
  client.on('error', () => undefined);
  if (role === 'probe') client.connect().catch(() => undefined);
  return client;
}

/** PING with a deadline; resolves to an explanation instead of throwing. */
export async function pingRedis(client: Redis, timeoutMs = 1500): Promise<{ ok: true } | { ok: false; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const pong = await Promise.race([client.ping(), timeout]);
    return pong === 'PONG' ? { ok: true } : { ok: false, reason: `unexpected reply ${String(pong)}` };
  } catch (e) {
    return { ok: false, reason: `redis ${client.status}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
