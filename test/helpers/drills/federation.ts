/**
 * A small real federation for drills and the egress test: `launchFederation` (the demo's launcher: an aggregator
 * process, one `fhirfed serve --with-worker` per site and each site's FHIR server on loopback) with the pieces the
 * drills poke at exposed under short names, verbose logs, and its folder removed on close.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { DemoSite } from '../../../src/demo/data/index.js';
import { launchFederation, type Federation, type Hyper } from '../../../src/demo/launch.js';
import { waitFor, type Child } from '../../../src/demo/processes.js';

const HYPER: Hyper = { model: 'mlp', hidden: [8], epochs: 3, batchSize: 32, learningRate: 0.02, patience: 4, holdoutFraction: 0.25, seed: 7 };

export interface DrillFederationOptions {
  /** Demo site ids to run (FHIR sites only: hospital-a, hospital-b, demo-hospital-d). */
  readonly sites: readonly string[];
  readonly patientsPerSite: number;
  readonly rounds: number;
  readonly codec: 'masking' | 'paillier' | 'plain';
  readonly redisUrl: string;
  /** Where gateways send aggregator traffic (e.g. a proxy started here); default the aggregator itself. */
  readonly gatewayAggregatorUrl?: (aggregatorPort: number) => Promise<string> | string;
  readonly privacyMode?: 'sample' | 'client' | 'off';
  /** Overrides of the local training hyperparameters (e.g. more epochs and no early stop for a long job). */
  readonly hyper?: Partial<Hyper>;
  readonly deadlineSeconds?: number;
  readonly extraGatewayEnv?: Readonly<Record<string, string>>;
}

export interface FederationView {
  status: string;
  completedRounds: number;
  round: { number: number; status: string; selected: string[]; submitted: string[] } | null;
  sites: { id: string; registered: boolean }[];
  history?: { round: number; status?: string; submitted?: string[]; participants?: string[] }[];
}

export interface DrillFederation {
  readonly work: string;
  readonly sites: readonly DemoSite[];
  readonly siteSecrets: Readonly<Record<string, string>>;
  readonly operatorToken: string;
  readonly aggregatorPort: number;
  readonly aggregatorUrl: string;
  readonly aggregator: Child;
  readonly gateways: Readonly<Record<string, Child>>;
  readonly gatewayPorts: Readonly<Record<string, number>>;
  startAggregator(): Promise<void>;
  view(): Promise<FederationView>;
  waitDone(timeoutMs: number): Promise<FederationView>;
  log(name: string): string;
  close(): Promise<void>;
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() });

export async function startDrillFederation(o: DrillFederationOptions): Promise<DrillFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fhirfed-drill-'));
  let fed: Federation;
  try {
    fed = await launchFederation({
      rounds: o.rounds,
      patientsPerSite: o.patientsPerSite,
      seed: 11,
      outDir: dir,
      epsilon: 50,
      delta: 1e-5,
      redisUrl: o.redisUrl,
      out: quiet,
      siteIds: o.sites,
      minSites: o.sites.length,
      deadlineSeconds: o.deadlineSeconds ?? 120,
      task: 'drill',
      codec: o.codec,
      paillierBits: 1024,
      maxDropouts: 0,
      stepSeconds: 60,
      privacyMode: o.privacyMode ?? 'client',
      noiseMultiplier: 0.5,
      hyper: { ...HYPER, ...o.hyper },
      minRows: 10,
      pollSeconds: 0,
      logLevel: 'info',
      ...(o.gatewayAggregatorUrl ? { gatewayAggregatorUrl: o.gatewayAggregatorUrl } : {}),
      ...(o.extraGatewayEnv ? { extraGatewayEnv: o.extraGatewayEnv } : {}),
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const f = fed;
  const view = async (): Promise<FederationView> => {
    const r = await fetch(`${f.aggUrl}/federation`, { headers: { authorization: `Bearer ${f.operatorToken}` } });
    if (!r.ok) throw new Error(`GET /federation: HTTP ${r.status}`);
    return (await r.json()) as FederationView;
  };
  return {
    work: f.work,
    sites: f.sites,
    siteSecrets: f.siteSecrets,
    operatorToken: f.operatorToken,
    aggregatorPort: f.aggPort,
    aggregatorUrl: f.aggUrl,
    get aggregator() {
      return f.aggregator();
    },
    gateways: f.gateways,
    gatewayPorts: f.gatewayPorts,
    startAggregator: () => f.startAggregator(),
    view,
    waitDone: (timeoutMs) =>
      waitFor('the federation to finish', async () => {
        const v = await view();
        return v.status === 'done' ? v : undefined;
      }, timeoutMs, 500),
    log: (name) => f.log(name),
    close: async () => {
      await f.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The gateway's /status (operator token). */
export async function gatewayStatus(fed: DrillFederation, site: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${fed.gatewayPorts[site]}/status`, { headers: { authorization: `Bearer ${fed.operatorToken}` } });
  if (!r.ok) throw new Error(`GET /status: HTTP ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}
