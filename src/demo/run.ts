import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { trainingSpecs } from '../api/wiring/site.js';
import { FhirfedError } from '../core/errors.js';
import { generateKeyPair, publicKeyBase64 } from '../federation/signing.js';
import { harmonize } from '../harmonize/harmonize.js';
import { loadSiteMapping } from '../harmonize/mapping.js';
import { startFhirServer, type RunningFhirServer } from '../ingest/fhir/test-server.js';
import { MllpClient } from '../ingest/mllp/client.js';
import { planDpSgd } from '../privacy/index.js';
import { initialModelWeights } from '../training/index.js';
import { demoSiteResources, generateFederation, type DemoSite } from './data/index.js';
import { freePort, spawnFhirfed, waitFor, type Child } from './processes.js';
import { Progress } from './progress.js';
import { writeReport, type DemoReport, type HeadMetrics, type RoundRecord } from './report.js';

export interface DemoOptions {
  readonly rounds: number;
  readonly patientsPerSite: number;
  readonly seed: number;
  /** Where the report folder goes; a timestamped folder inside it is created. */
  readonly outDir: string;
  /** Total privacy budget per site. */
  readonly epsilon: number;
  readonly delta: number;
  readonly redisUrl: string;
  readonly out: NodeJS.WritableStream;
  /** Only these demo sites (tests); default all four. */
  readonly siteIds?: readonly string[];
  /** Aggregator settings a test may tighten. */
  readonly minSites?: number;
  readonly deadlineSeconds?: number;
  readonly stepSeconds?: number;
}

/** A running demo federation: its processes, addresses and what a test needs to poke at it. */
export interface Federation {
  readonly reportDir: string;
  readonly work: string;
  readonly aggUrl: string;
  readonly operatorToken: string;
  readonly sites: readonly DemoSite[];
  readonly sitesReport: DemoReport['sites'];
  readonly statusUrls: Readonly<Record<string, string>>;
  readonly aggregator: () => Child;
  readonly gateways: Readonly<Record<string, Child>>;
  /** Kills the aggregator (SIGKILL) and starts it again with the same config and data folder. */
  restartAggregator(): Promise<void>;
  close(): Promise<void>;
  readonly started: Date;
  readonly progress: Progress;
}

export interface DemoResult {
  readonly reportDir: string;
  readonly report: DemoReport;
}

const MAPPINGS = resolve(new URL('../../mappings', import.meta.url).pathname);
const TRANSPORT: Record<string, string> = { mllp: 'HL7v2 over MLLP', 'fhir-rest': 'FHIR REST pull', 'bulk-ndjson': 'Bulk $export NDJSON' };
const HYPER = { model: 'mlp' as const, hidden: [16], epochs: 4, batchSize: 32, learningRate: 0.02, patience: 4, holdoutFraction: 0.25, seed: 7 };

interface FederationView {
  status: string;
  completedRounds: number;
  round: { number: number; status: string; selected: string[]; submitted: string[] } | null;
  versions: { version: string; round: number; metric?: number }[];
  evaluations: Record<string, Record<string, Record<string, { f1: number; auroc: number | null; n: number }>>>;
  sites: { id: string; registered: boolean; lastStatus: { privacy?: { epsilonSpent: number } | null; data?: { rows?: number; fillRate?: number } | null } | null }[];
  history?: unknown[];
}

/** Weighted (by holdout rows) mean of the sites' metrics for one model version, per head. */
function combine(byHead: Record<string, Record<string, { f1: number; auroc: number | null; n: number }>>): Record<string, HeadMetrics> {
  const acc: Record<string, { f1: number; auroc: number; n: number; na: number }> = {};
  for (const heads of Object.values(byHead)) {
    for (const [h, m] of Object.entries(heads)) {
      const a = (acc[h] ??= { f1: 0, auroc: 0, n: 0, na: 0 });
      a.f1 += m.f1 * m.n;
      a.n += m.n;
      if (m.auroc !== null) {
        a.auroc += m.auroc * m.n;
        a.na += m.n;
      }
    }
  }
  return Object.fromEntries(Object.entries(acc).map(([h, a]) => [h, { f1: a.n ? a.f1 / a.n : NaN, auroc: a.na ? a.auroc / a.na : NaN }]));
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const fed = await launchFederation(o);
  try {
    const report = await followRounds(o, fed.aggUrl, fed.operatorToken, fed.sites, fed.sitesReport, fed.progress, fed.started, fed.statusUrls);
    const html = writeReport(fed.reportDir, report);
    fed.progress.done(`report: ${html}`);
    return { reportDir: fed.reportDir, report };
  } finally {
    await fed.close();
  }
}

/** Starts the whole federation (data, FHIR servers, aggregator, gateways) and feeds the MLLP site. */
export async function launchFederation(o: DemoOptions): Promise<Federation> {
  const started = new Date();
  const p = new Progress(o.out);
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const reportDir = resolve(o.outDir, `demo-${stamp}`);
  const work = join(reportDir, 'work');
  mkdirSync(join(work, 'logs'), { recursive: true });
  const children: Child[] = [];
  const servers: RunningFhirServer[] = [];
  const operatorToken = randomBytes(24).toString('hex');
  writeFileSync(join(work, 'operator-tokens'), `${operatorToken} *\n`, { mode: 0o600 });
  try {
    p.step(`fhirfed demo: a federation of hospitals on this machine (work folder ${work})`);
    const sites = generateFederation({ seed: o.seed, patientsPerSite: o.patientsPerSite }).filter((x) => !o.siteIds || o.siteIds.includes(x.id));
    p.step(`generated ${sites.reduce((a, s) => a + s.truth.length, 0)} synthetic patients (ground truth: src/demo/data/GROUND-TRUTH.md)`);

    // Mapping dry-run per site: what each hospital's data becomes before anything trains.
    const sitesReport: DemoReport['sites'][number][] = [];
    const trainRows: Record<string, number> = {};
    let specs: ReturnType<typeof trainingSpecs> | undefined;
    for (const s of sites) {
      const loaded = await loadSiteMapping(MAPPINGS, s.id);
      if (!loaded.mapping) throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `the shipped mappings of ${s.id} do not load`, { hint: 'run fhirfed mappings validate mappings' });
      specs ??= trainingSpecs(loaded.mapping.schema);
      const { rows, report } = await harmonize(demoSiteResources(s), loaded.mapping, { siteSecret: randomBytes(16).toString('hex') });
      const predictors = loaded.mapping.schema.names.filter((n) => !loaded.mapping?.schema.labels.includes(n));
      const fillOf = (n: string) => report.features.find((f) => f.name === n)?.fillRate ?? 0;
      const fill = predictors.reduce((a, n) => a + fillOf(n), 0) / predictors.length;
      const quarantined = Object.values(report.quarantine).reduce((a, b) => a + b, 0);
      const prevalence: Record<string, number> = {};
      for (const l of loaded.mapping.schema.labels) {
        const vals = rows.map((r) => r.values[l]).filter((v) => v !== null && v !== undefined);
        prevalence[l] = vals.length ? vals.filter((v) => v === true || v === 1).length / vals.length : NaN;
      }
      trainRows[s.id] = Math.floor(rows.length * (1 - HYPER.holdoutFraction));
      sitesReport.push({ id: s.id, transport: TRANSPORT[s.transport] ?? s.transport, rows: rows.length, fillRate: fill, quarantined, prevalence });
      p.line(
        `  dry-run ${s.id.padEnd(16)} ${(TRANSPORT[s.transport] ?? s.transport).padEnd(20)} ${String(report.resources).padStart(6)} resources -> ${String(rows.length).padStart(4)} rows, fill ${(fill * 100).toFixed(0).padStart(3)}%, quarantined ${quarantined}`,
      );
    }
    if (!specs) throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'no demo sites');

    // Keys, initial model, privacy plan.
    const keysDir = join(work, 'keys');
    mkdirSync(keysDir, { recursive: true });
    const aggKey = generateKeyPair(join(keysDir, 'aggregator.key'));
    const siteKeys = Object.fromEntries(sites.map((s) => [s.id, generateKeyPair(join(keysDir, `${s.id}.key`))]));
    const init = await initialModelWeights(specs, HYPER);
    writeFileSync(join(work, 'initial.f32'), Buffer.from(init.buffer, init.byteOffset, init.byteLength));
    // Each site plans its own noise for its own sample rate, so every site stays within the same budget.
    const noise = Object.fromEntries(
      sites.map((s) => [
        s.id,
        planDpSgd({ n: trainRows[s.id] as number, batchSize: HYPER.batchSize, epochs: HYPER.epochs, rounds: o.rounds, targetEpsilon: o.epsilon * 0.95, delta: o.delta }).noiseMultiplier,
      ]),
    );
    p.step(
      `privacy: DP-SGD, clip 1.0, noise multipliers ${Object.values(noise).map((z) => z.toFixed(2)).join('/')} (planned for ${o.rounds} rounds within epsilon ${o.epsilon}, delta ${o.delta}); secure aggregation: pairwise masking`,
    );

    // Hospitals' own systems: FHIR servers on loopback for the FHIR and Bulk sites.
    const fhirBase: Record<string, string> = {};
    for (const s of sites.filter((x) => x.transport !== 'mllp')) {
      const server = await startFhirServer({ resources: demoSiteResources(s) as never });
      servers.push(server);
      fhirBase[s.id] = server.baseUrl;
    }
    p.step(`started ${servers.length} hospital FHIR servers on loopback`);

    // The aggregator.
    const ports = Object.fromEntries(await Promise.all(sites.map(async (s) => [s.id, await freePort()] as const)));
    const aggPort = await freePort();
    const aggConfig = {
      server: { host: '127.0.0.1', port: aggPort },
      log: { level: 'warn' },
      dataDir: join(work, 'aggregator'),
      keyFile: join(keysDir, 'aggregator.key'),
      operatorTokensFile: join(work, 'operator-tokens'),
      pollSeconds: 2,
      sites: sites.map((s) => ({ id: s.id, publicKey: publicKeyBase64(siteKeys[s.id] as never), statusUrl: `http://127.0.0.1:${ports[s.id]}/status` })),
      task: {
        name: 'demo',
        rounds: o.rounds,
        minSites: o.minSites ?? Math.min(3, sites.length),
        startSites: sites.length,
        deadlineSeconds: o.deadlineSeconds ?? 60,
        codec: 'masking',
        strategy: { name: 'fedavg' },
        evaluation: { metric: 'auroc', patience: 0 },
        hyper: { ...HYPER, hidden: [...HYPER.hidden] },
        model: { initialFile: join(work, 'initial.f32') },
        secagg: { maxDropouts: 1, stepSeconds: o.stepSeconds ?? 30 },
      },
    };
    writeFileSync(join(work, 'aggregator.yaml'), stringify(aggConfig));
    const startAggregator = () => spawnFhirfed('aggregator', ['aggregator', '--config', join(work, 'aggregator.yaml')], {}, join(work, 'logs'));
    let agg = startAggregator();
    children.push(agg);
    await agg.ready;
    const aggUrl = `http://127.0.0.1:${aggPort}`;
    p.step(`aggregator listening on ${aggUrl}`);

    // One gateway process per hospital.
    for (const s of sites) {
      const env: NodeJS.ProcessEnv = {
        REDIS_URL: o.redisUrl,
        FHIRFED_SITE_ID: s.id,
        FHIRFED_SITE_SECRET: randomBytes(24).toString('hex'),
        FHIRFED_STORAGE_DATA_DIR: join(work, s.id),
        FHIRFED_MAPPINGS_DIR: MAPPINGS,
        FHIRFED_SERVER_HOST: '127.0.0.1',
        FHIRFED_SERVER_PORT: String(ports[s.id]),
        FHIRFED_REDIS_KEY_PREFIX: `fhirfed-demo-${stamp}`,
        FHIRFED_LOG_LEVEL: 'warn',
        FHIRFED_AGGREGATOR_URL: aggUrl,
        FHIRFED_AGGREGATOR_KEY_FILE: join(keysDir, `${s.id}.key`),
        FHIRFED_AGGREGATOR_PUBLIC_KEY: publicKeyBase64(aggKey),
        FHIRFED_AGGREGATOR_TASK: 'demo',
        FHIRFED_AGGREGATOR_STATUS_URL: `http://127.0.0.1:${ports[s.id]}/status`,
        FHIRFED_AGGREGATOR_FOLLOW_SECONDS: '0.5',
        FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(work, 'operator-tokens'),
        FHIRFED_PRIVACY_MODE: 'sample',
        FHIRFED_PRIVACY_EPSILON: String(o.epsilon),
        FHIRFED_PRIVACY_DELTA: String(o.delta),
        FHIRFED_PRIVACY_CLIP_NORM: '1',
        FHIRFED_PRIVACY_NOISE_MULTIPLIER: String(noise[s.id]),
        // Join the rounds only once (nearly) the whole feed is harmonized: the noise was planned for these rows.
        FHIRFED_AGGREGATOR_MIN_ROWS: String(Math.max(1, Math.floor(s.truth.length * 0.9))),
        FHIRFED_SECAGG_SCHEME: 'masking',
        FHIRFED_TRAINING_MODEL: HYPER.model,
        FHIRFED_TRAINING_HIDDEN: HYPER.hidden.join(','),
        FHIRFED_TRAINING_EPOCHS: String(HYPER.epochs),
        FHIRFED_TRAINING_BATCH_SIZE: String(HYPER.batchSize),
        FHIRFED_TRAINING_LEARNING_RATE: String(HYPER.learningRate),
        FHIRFED_TRAINING_HOLDOUT_FRACTION: String(HYPER.holdoutFraction),
        FHIRFED_TRAINING_SEED: String(HYPER.seed),
        ...(s.transport === 'mllp' ? { FHIRFED_MLLP_ENABLED: 'true', FHIRFED_MLLP_HOST: '127.0.0.1', FHIRFED_MLLP_PORT: '0' } : {}),
        ...(fhirBase[s.id] ? { FHIRFED_FHIR_BASE_URL: fhirBase[s.id], FHIRFED_FHIR_PULL: s.transport === 'bulk-ndjson' ? 'bulk' : 'rest' } : {}),
      };
      children.push(spawnFhirfed(s.id, ['serve', '--with-worker'], env, join(work, 'logs')));
    }
    const listening = await Promise.all(children.slice(1).map((c) => c.ready));
    p.step(`started ${sites.length} gateway processes (each: api, MLLP or FHIR pull, training worker)`);

    // Site C's interface engine sends its HL7v2 feed over MLLP.
    const mllpSite = sites.find((s) => s.transport === 'mllp');
    if (mllpSite?.hl7Messages) {
      const idx = sites.indexOf(mllpSite);
      await sendMllp(mllpSite, listening[idx]?.mllp as number, p);
    }

    const statusUrls = Object.fromEntries(sites.map((s) => [s.id, `http://127.0.0.1:${ports[s.id]}/status`]));
    const gateways = Object.fromEntries(sites.map((s, i) => [s.id, children[i + 1] as Child]));
    const close = async () => {
      // Gateways first, so none of them reports the aggregator's shutdown as a failure.
      await Promise.all(Object.values(gateways).map((c) => c.stop()));
      await agg.stop();
      await Promise.all(servers.map((x) => x.close()));
    };
    return {
      reportDir,
      work,
      aggUrl,
      operatorToken,
      sites,
      sitesReport,
      statusUrls,
      aggregator: () => agg,
      gateways,
      started,
      progress: p,
      close,
      restartAggregator: async () => {
        agg.proc.kill('SIGKILL');
        await new Promise<void>((r) => (agg.proc.exitCode !== null || agg.proc.signalCode !== null ? r() : agg.proc.once('exit', () => r())));
        agg = startAggregator();
        await agg.ready;
      },
    };
  } catch (e) {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(servers.map((x) => x.close()));
    throw e;
  }
}

async function sendMllp(site: DemoSite, port: number, p: Progress): Promise<void> {
  const messages = site.hl7Messages ?? [];
  const client = await MllpClient.connect({ host: '127.0.0.1', port });
  let aa = 0;
  try {
    for (let i = 0; i < messages.length; i++) {
      const ack = await client.send(messages[i] as string);
      if (/MSA\|(AA|CA)/.test(ack)) aa++;
      if (i % 50 === 0 || i === messages.length - 1) p.bar(`  MLLP ${site.id}`, i + 1, messages.length, `${aa} AA`);
    }
  } finally {
    await client.close();
  }
  p.endBar();
  if (aa !== messages.length) p.line(`  warning: ${messages.length - aa} message(s) were not acknowledged with AA`);
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function followRounds(
  o: DemoOptions,
  aggUrl: string,
  token: string,
  sites: readonly DemoSite[],
  sitesReport: DemoReport['sites'],
  p: Progress,
  started: Date,
  statusUrls: Readonly<Record<string, string>>,
): Promise<DemoReport> {
  // Privacy spend straight from each gateway's authenticated /status (what the aggregator polls too).
  const spend = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(statusUrls).map(async ([site, url]) => {
          try {
            const st = await getJson<{ privacy: { epsilonSpent: number } | null }>(url, token);
            return [site, st.privacy?.epsilonSpent ?? NaN] as const;
          } catch {
            return [site, NaN] as const;
          }
        }),
      ),
    );
  const rounds: RoundRecord[] = [];
  const heads = ['drug_response', 'adverse_event'];
  p.line(`\n round  sites  ${heads.map((h) => `${h} F1 / AUROC`).join('   ')}   max epsilon`);
  let lastRoundStart = Date.now();
  let shown = 0;
  let doneSince: number | undefined;
  // Spend observed when round r closed (the next round opened, or the federation finished).
  const spendAt = new Map<number, Record<string, number>>();
  let openRound = 0;
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new FhirfedError('FHIRFED_ERR_TIMEOUT', 'the federation did not finish within 15 minutes', { hint: 'see the logs in the work folder' });
    const v = await waitFor('the aggregator', () => getJson<FederationView>(`${aggUrl}/federation`, token), 10_000);
    const current = v.status === 'done' ? v.completedRounds + 1 : (v.round?.number ?? 0);
    if (current > openRound) {
      const s = await spend();
      for (let r = Math.max(1, openRound); r < current; r++) if (!spendAt.has(r)) spendAt.set(r, s);
      openRound = current;
    }
    // A version produced by round r is evaluated by the sites at the start of round r+1 (or in a final pass).
    for (const ver of v.versions.filter((x) => x.round > 0).sort((a, b) => a.round - b.round)) {
      if (ver.round <= shown) continue;
      const evals = v.evaluations[ver.version];
      const evaluatedBy = evals ? Object.keys(evals) : [];
      const expected = v.status === 'done' && ver.round === v.completedRounds ? sites.length : Math.min(3, sites.length);
      if (evaluatedBy.length < expected && !(doneSince !== undefined && Date.now() - doneSince > 20_000)) break;
      const metrics = combine(evals ?? {});
      const siteMetrics: RoundRecord['siteMetrics'] = Object.fromEntries(
        Object.entries(evals ?? {}).map(([s, hs]) => [s, Object.fromEntries(Object.entries(hs).map(([h, m]) => [h, { f1: m.f1, auroc: m.auroc ?? NaN }]))]),
      );
      const epsilon = spendAt.get(ver.round) ?? (await spend());
      const rec: RoundRecord = { round: ver.round, sites: evaluatedBy, metrics, siteMetrics, epsilon, seconds: (Date.now() - lastRoundStart) / 1000 };
      lastRoundStart = Date.now();
      rounds.push(rec);
      shown = ver.round;
      const maxEps = Math.max(...Object.values(epsilon).filter(Number.isFinite), 0);
      p.endBar();
      p.line(
        ` ${String(ver.round).padStart(5)}  ${String(evaluatedBy.length).padStart(5)}  ${heads
          .map((h) => `${(metrics[h]?.f1 ?? NaN).toFixed(3)} / ${(metrics[h]?.auroc ?? NaN).toFixed(3)}`.padEnd(h.length + 14))
          .join('   ')}   ${maxEps.toFixed(2)}`,
      );
    }
    if (v.status === 'done') {
      // The final model is evaluated by the sites after the last round closes; give them a moment.
      const last = v.versions.find((x) => x.round === v.completedRounds);
      const evaluated = last ? Object.keys(v.evaluations[last.version] ?? {}).length : 0;
      doneSince ??= Date.now();
      if (shown >= v.completedRounds || (evaluated === 0 && Date.now() - doneSince > 30_000)) break;
    }
    if (v.round) p.bar(`  round ${v.round.number}/${o.rounds}`, v.round.submitted.length, v.round.selected.length, `${v.round.status}, updates ${v.round.submitted.length}/${v.round.selected.length}`);
    else p.bar('  waiting for sites', v.sites.filter((s) => s.registered).length, sites.length, 'registered');
    await new Promise((r) => setTimeout(r, 500));
  }
  p.endBar();
  const best = rounds.reduce<RoundRecord | undefined>((b, r) => {
    const score = (x: RoundRecord) => Object.values(x.metrics).reduce((a, m) => a + (Number.isFinite(m.auroc) ? m.auroc : 0), 0);
    return !b || score(r) > score(b) ? r : b;
  }, undefined);
  return {
    title: 'fhirfed demo federation',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: { rounds: o.rounds, patientsPerSite: o.patientsPerSite, seed: o.seed, hyper: HYPER, codec: 'masking', privacy: 'DP-SGD', strategy: 'fedavg' },
    budget: { epsilon: o.epsilon, delta: o.delta },
    sites: sitesReport,
    rounds,
    ...(best ? { bestRound: best.round } : {}),
  };
}
