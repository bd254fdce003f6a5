import { ed25519 } from '@noble/curves/ed25519.js';
import { SecAggClient } from '../../src/secagg/client.js';
import type { SecAggParams } from '../../src/secagg/graph.js';
import { SecAggServer, type AggregateResult } from '../../src/secagg/server.js';

export interface Federation {
  readonly ids: string[];
  readonly roster: Map<string, Uint8Array>;
  readonly keys: Map<string, Uint8Array>;
}

export function federation(n: number): Federation {
  const ids = Array.from({ length: n }, (_, i) => `site-${String(i).padStart(2, '0')}`);
  const roster = new Map<string, Uint8Array>();
  const keys = new Map<string, Uint8Array>();
  for (const id of ids) {
    const k = ed25519.keygen();
    roster.set(id, k.publicKey);
    keys.set(id, k.secretKey);
  }
  return { ids, roster, keys };
}

export function randomUpdate(len: number, scale = 1): Float32Array {
  const v = new Float32Array(len);
  for (let i = 0; i < len; i++) v[i] = (Math.random() * 2 - 1) * scale;
  return v;
}

export interface DropPlan {
  /** Sites that never advertise. */
  readonly beforeAdvertise?: readonly string[];
  /** Sites that advertise but never send shares. */
  readonly afterAdvertise?: readonly string[];
  /** Sites that send shares but no masked input (the hard case: their pair masks must be removed). */
  readonly afterShares?: readonly string[];
  /** Survivors that never answer the unmask request. */
  readonly silentInUnmask?: readonly string[];
}

/** Runs one full round through JSON (as over the wire) and returns the aggregate and the plain survivors' sum. */
export async function runRound(
  fed: Federation,
  updates: Map<string, Float32Array>,
  params: SecAggParams,
  drops: DropPlan = {},
  round = 'round-1',
): Promise<{ result: AggregateResult; plainSum: Float64Array; server: SecAggServer; clients: Map<string, SecAggClient> }> {
  const wire = <T>(x: T): unknown => JSON.parse(JSON.stringify(x));
  const server = new SecAggServer({ round, roster: fed.roster, params });
  const clients = new Map<string, SecAggClient>();
  for (const id of fed.ids) {
    if (drops.beforeAdvertise?.includes(id)) continue;
    const c = new SecAggClient({ siteId: id, round, signingKey: fed.keys.get(id) as Uint8Array, roster: fed.roster, params });
    clients.set(id, c);
    server.receiveAdvertise(wire(c.advertise()));
  }
  const keys = wire(server.keysBroadcast());
  for (const [id, c] of clients) {
    if (drops.afterAdvertise?.includes(id)) continue;
    server.receiveShares(wire(await c.shareKeys(keys)));
  }
  server.closeShares();
  const survivors: string[] = [];
  for (const [id, c] of clients) {
    if (drops.afterAdvertise?.includes(id) || drops.afterShares?.includes(id)) continue;
    server.receiveMasked(wire(c.maskedInput(wire(server.inboxFor(id)), updates.get(id) as Float32Array)));
    survivors.push(id);
  }
  const req = wire(server.unmaskRequest());
  for (const id of survivors) {
    if (drops.silentInUnmask?.includes(id)) continue;
    server.receiveUnmask(wire((clients.get(id) as SecAggClient).unmask(req)));
  }
  const result = await server.aggregate();
  const plainSum = new Float64Array(params.vectorLength);
  for (const id of survivors) {
    const u = updates.get(id) as Float32Array;
    for (let i = 0; i < u.length; i++) plainSum[i] = (plainSum[i] as number) + (u[i] as number);
  }
  return { result, plainSum, server, clients };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
