import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnFhirfed, startOnFreePort, type Child } from '../../src/demo/processes.js';

/**
 * startOnFreePort: a port found free may be taken before the child binds it (the CI failure of the Redis drill:
 * a gateway exited with EADDRINUSE). The child is then started again on another port; other failures are not retried.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let dir: string;
let squatter: net.Server;
let taken: number;
const children: Child[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-ports-'));
  squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  taken = (squatter.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await new Promise((r) => squatter.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function gateway(port: number, extra: Record<string, string> = {}): Child {
  const c = spawnFhirfed(`gw-${port}`, ['serve'], {
    REDIS_URL,
    FHIRFED_SITE_ID: 'hospital-a',
    FHIRFED_SITE_SECRET: 'a-site-secret-of-enough-length-0123456789',
    FHIRFED_STORAGE_DATA_DIR: join(dir, `data-${port}`),
    FHIRFED_MAPPINGS_DIR: resolve('mappings'),
    FHIRFED_SERVER_HOST: '127.0.0.1',
    FHIRFED_SERVER_PORT: String(port),
    FHIRFED_LOG_LEVEL: 'warn',
    ...extra,
  }, dir);
  children.push(c);
  return c;
}

describe('startOnFreePort', () => {
  it('starts the child again on another port when the first one was taken meanwhile', async () => {
    const picks = [taken, await freePort()];
    const tried: number[] = [];
    const { child, port, ready } = await startOnFreePort((p) => {
      tried.push(p);
      return gateway(p);
    }, 3, async () => picks.shift() as number);
    expect(tried).toEqual([taken, port]);
    expect(port).not.toBe(taken);
    expect(ready.listening).toBe(port);
    expect(child.proc.exitCode).toBeNull();
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(r.status).toBe(200);
  }, 60_000);

  it('passes any other start-up failure on at once, with the child\'s reason', async () => {
    const tried: number[] = [];
    const err = await startOnFreePort((p) => {
      tried.push(p);
      return gateway(p, { FHIRFED_PRIVACY_MODE: 'maybe' });
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/exited with code 78/);
    expect(tried).toHaveLength(1);
    expect(children.at(-1)?.tail()).toMatch(/privacy\.mode/);
  }, 60_000);

  it('gives up after the given number of attempts', async () => {
    const tried: number[] = [];
    const err = await startOnFreePort((p) => {
      tried.push(p);
      return gateway(p);
    }, 2, async () => taken).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/exited with code 78/);
    expect(tried).toEqual([taken, taken]);
  }, 60_000);
});
