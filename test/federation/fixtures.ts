import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { parseAggregatorConfig, type AggregatorConfig, type AggregatorConfigInput } from '../../src/federation/aggregator/config.js';
import { generateKeyPair, publicKeyBase64, type KeyPair } from '../../src/federation/signing.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function tempDir(prefix = 'fhirfed-fed-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestSite {
  readonly id: string;
  readonly keys: KeyPair;
}

export function makeSites(ids: readonly string[]): TestSite[] {
  return ids.map((id) => ({ id, keys: generateKeyPair() }));
}

export function aggregatorConfig(dataDir: string, sites: readonly TestSite[], task: Partial<AggregatorConfigInput['task']> = {}, extra: Partial<AggregatorConfigInput> = {}): AggregatorConfig {
  return parseAggregatorConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    dataDir,
    pollSeconds: 0,
    sites: sites.map((s) => ({ id: s.id, publicKey: publicKeyBase64(s.keys) })),
    ...extra,
    task: { name: 'diabetes', codec: 'plain', minSites: 2, deadlineSeconds: 300, model: { parameters: 4 }, ...task },
  });
}

export async function listen(app: Express): Promise<{ server: Server; base: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    base,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}

/** Polls until `fn` returns something other than undefined (waits for a state, never asserts on time). */
export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
