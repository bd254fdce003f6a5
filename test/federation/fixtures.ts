import { expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { FixedPointCodec } from '../../src/secagg/index.js';
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

/** Secure-round tests share one update length and the delta each site sends. */
export const SECURE_LEN = 6;
export const deltaOf = (k: number): Float32Array => Float32Array.from({ length: SECURE_LEN }, (_, i) => (i % 2 === 0 ? 1 : -1) * k * (0.1 + i / 7));

/** Plain FedAvg (weighted by samples), in float64: what a secure sum must reproduce. */
export function fedAvg(parts: readonly { delta: Float32Array; n: number }[]): Float64Array {
  const out = new Float64Array(parts[0]?.delta.length ?? 0);
  const total = parts.reduce((s, p) => s + p.n, 0);
  for (const p of parts) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + ((p.delta[i] as number) * p.n) / total;
  return out;
}

/**
 * The documented fixed-point error: each summed value is off by at most 2^-(f+1), so Σ w·Δ and Σ w are each off by
 * at most count·2^-(f+1); the unweighted result by (e + |expected|·e) / Σw, plus float32 rounding.
 */
export function expectWithinFixedPoint(got: Float32Array, expected: Float64Array, totalWeight: number, count: number, fractionalBits = 16): void {
  const e = new FixedPointCodec({ fractionalBits, maxSummands: count }).sumErrorBound;
  for (let i = 0; i < expected.length; i++) {
    const bound = (e + Math.abs(expected[i] as number) * e) / totalWeight + 1e-6;
    expect(Math.abs((got[i] as number) - (expected[i] as number))).toBeLessThanOrEqual(bound);
  }
}

/**
 * Three sites (100, 200 and 700 samples) submit round 1 through their followers; the round must close with all
 * three as participants, `lastStep` named in the reason, and a v1 model equal to plain FedAvg within the bound.
 */
export async function expectThreeSiteFedAvgRound<G>(o: {
  readonly gateways: readonly G[];
  readonly submit: (g: G, round: number, delta: Float32Array, n: number) => Promise<string>;
  readonly history: () => readonly { round: number; outcome?: string; reason?: string }[];
  readonly fetchModel: (version: string) => Promise<{ weights: Float32Array }>;
  readonly lastStep: string;
}): Promise<{ deltas: Float32Array[]; samples: number[] }> {
  const samples = [100, 200, 700];
  const deltas = [deltaOf(1), deltaOf(2), deltaOf(3)];
  const outcomes = await Promise.all(o.gateways.map((g, i) => o.submit(g, 1, deltas[i] as Float32Array, samples[i] as number)));
  expect(outcomes).toEqual(['accepted', 'accepted', 'accepted']);
  const h = await waitFor(() => o.history().find((e) => e.round === 1), 'round 1 to close');
  expect(h).toMatchObject({ outcome: 'closed', participants: ['site-a', 'site-b', 'site-c'], version: 'v1' });
  expect(h.reason).toBe(`secure sum of 3 site(s); every expected site sent ${o.lastStep}`);
  const model = await o.fetchModel('v1');
  expectWithinFixedPoint(model.weights, fedAvg(deltas.map((d, i) => ({ delta: d, n: samples[i] as number }))), 10, 3);
  return { deltas, samples };
}
