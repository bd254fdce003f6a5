import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { generatePaillierKeyFiles } from '../secagg/index.js';
import { initialModelWeights } from '../training/index.js';
import { demoSiteResources, generateFederation, type DemoSite } from './data/index.js';
import { spawnFhirfed, startOnFreePort, type Child } from './processes.js';
import { Progress } from './progress.js';
import type { DemoReport } from './report.js';

/**
 * Starts a whole federation on this machine from real processes: each hospital's own systems (a FHIR server on
 * loopback, or an interface engine sending HL7v2 over MLLP), one `fhirfed aggregator` and one
 * `fhirfed serve --with-worker` per hospital. `fhirfed demo` runs it with its defaults; the process tests and drills
 * use the options to tighten or expose pieces (plain codec, fixed client-level noise, a proxy in front of the
 * aggregator, longer jobs).
 */

export const DEMO_HYPER = { model: 'mlp' as const, hidden: [16], epochs: 4, batchSize: 32, learningRate: 0.02, patience: 4, holdoutFraction: 0.25, seed: 7 };
export type Hyper = typeof DEMO_HYPER;

export interface FederationOptions {
  readonly rounds: number;
  readonly patientsPerSite: number;
  readonly seed: number;
  /** Where the run's folder goes; a timestamped folder inside it is created (report, work/, logs). */
  readonly outDir: string;
  /** Total privacy budget per site. */
  readonly epsilon: number;
  readonly delta: number;
  readonly redisUrl: string;
  readonly out: NodeJS.WritableStream;
  /** Only these demo sites; default all four. */
  readonly siteIds?: readonly string[];
  /** Aggregator settings a test may tighten. */
  readonly minSites?: number;
  readonly deadlineSeconds?: number;
  readonly stepSeconds?: number;
  /** Federation task name (default `demo`). */
  readonly task?: string;
  /**
   * Secure aggregation: pairwise masking (default), Paillier (a federation key pair is generated; the aggregator
   * gets the public key, only the first site the private key) or plain updates.
   */
  readonly codec?: 'masking' | 'paillier' | 'plain';
  /** Paillier modulus size (default 2048; tests may use less). */
  readonly paillierBits?: number;
  /** Sites whose masks may be recovered after they drop out (masking only; default 1). */
  readonly maxDropouts?: number;
  /**
   * `sample` (default): DP-SGD, each site's noise planned to spend at most 95% of `epsilon` over the rounds.
   * `client`: noise on the whole update with the fixed `noiseMultiplier`. `off`: no noise.
   */
  readonly privacyMode?: 'sample' | 'client' | 'off';
  readonly noiseMultiplier?: number;
  /**
   * Rounds the DP-SGD noise is planned for (default rounds + 1): a site pays for a round when it trains, so a
   * round that fails after the sites trained (a site or the aggregator went down) costs budget without a result,
   * and a plan for exactly `rounds` would leave the last round without budget.
   */
  readonly budgetRounds?: number;
  /** Local training overrides (more epochs, a smaller model, ...). */
  readonly hyper?: Partial<Hyper>;
  /** Rows a site needs before it joins rounds; default 90% of its feed (the noise was planned for those rows). */
  readonly minRows?: number;
  /** How often the aggregator polls each gateway's /status (0: never; default 2 s). */
  readonly pollSeconds?: number;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where gateways send aggregator traffic (e.g. a recording proxy); default the aggregator itself. */
  readonly gatewayAggregatorUrl?: (aggregatorPort: number) => Promise<string> | string;
  readonly extraGatewayEnv?: Readonly<Record<string, string>>;
}

/** A running federation: its processes, addresses and what a test needs to poke at it. */
export interface Federation {
  readonly reportDir: string;
  readonly work: string;
  readonly aggUrl: string;
  readonly aggPort: number;
  readonly operatorToken: string;
  readonly sites: readonly DemoSite[];
  readonly sitesReport: DemoReport['sites'];
  readonly siteSecrets: Readonly<Record<string, string>>;
  readonly gatewayPorts: Readonly<Record<string, number>>;
  readonly statusUrls: Readonly<Record<string, string>>;
  readonly hyper: Hyper;
  readonly aggregator: () => Child;
  readonly gateways: Readonly<Record<string, Child>>;
  /** Starts the aggregator again (same port, config and data folder) after it stopped; its log is aggregator-N. */
  startAggregator(): Promise<void>;
  /** Kills the aggregator (SIGKILL) and starts it again. */
  restartAggregator(): Promise<void>;
  /** A process's log so far (`aggregator-0`, `aggregator-1`, ..., or a site id). */
  log(name: string): string;
  close(): Promise<void>;
  readonly started: Date;
  readonly progress: Progress;
}

const MAPPINGS = resolve(new URL('../../mappings', import.meta.url).pathname);
const TRANSPORT: Record<string, string> = { mllp: 'HL7v2 over MLLP', 'fhir-rest': 'FHIR REST pull', 'bulk-ndjson': 'Bulk $export NDJSON' };

/** Starts the whole federation (data, FHIR servers, aggregator, gateways) and feeds the MLLP site. */
export async function launchFederation(o: FederationOptions): Promise<Federation> {
  const started = new Date();
  const p = new Progress(o.out);
  const hyper: Hyper = { ...DEMO_HYPER, ...o.hyper };
  const task = o.task ?? 'demo';
  const codec = o.codec ?? 'masking';
  const privacyMode = o.privacyMode ?? 'sample';
  const budgetRounds = o.budgetRounds ?? o.rounds + 1;
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const reportDir = resolve(o.outDir, `demo-${stamp}`);
  const work = join(reportDir, 'work');
  const logs = join(work, 'logs');
  mkdirSync(logs, { recursive: true });
  const children: Child[] = [];
  const servers: RunningFhirServer[] = [];
  const operatorToken = randomBytes(24).toString('hex');
  writeFileSync(join(work, 'operator-tokens'), `${operatorToken} *\n`, { mode: 0o600 });
  const readLog = (name: string): string => {
    try {
      return readFileSync(join(logs, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };
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
      trainRows[s.id] = Math.floor(rows.length * (1 - hyper.holdoutFraction));
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
    const paillierKeys = codec === 'paillier' ? await generatePaillierKeyFiles(join(keysDir, 'paillier'), o.paillierBits ?? 2048) : undefined;
    const decryptor = sites.map((s) => s.id).sort()[0];
    const init = await initialModelWeights(specs, hyper);
    writeFileSync(join(work, 'initial.f32'), Buffer.from(init.buffer, init.byteOffset, init.byteLength));
    // Each site plans its own noise for its own sample rate, so every site stays within the same budget.
    const noise = Object.fromEntries(
      sites.map((s) => [
        s.id,
        privacyMode === 'sample' && o.noiseMultiplier === undefined
          ? planDpSgd({ n: trainRows[s.id] as number, batchSize: hyper.batchSize, epochs: hyper.epochs, rounds: budgetRounds, targetEpsilon: o.epsilon * 0.95, delta: o.delta }).noiseMultiplier
          : (o.noiseMultiplier ?? 0),
      ]),
    );
    const secaggText = {
      masking: 'secure aggregation: pairwise masking',
      paillier: `secure aggregation: Paillier (the aggregator holds the public key only; ${decryptor} holds the private key)`,
      plain: 'secure aggregation: off (plain updates)',
    }[codec];
    p.step(
      privacyMode === 'off'
        ? `privacy: off; ${secaggText}`
        : `privacy: ${privacyMode === 'sample' ? 'DP-SGD' : 'client-level Gaussian'}, clip 1.0, noise multipliers ${Object.values(noise).map((z) => z.toFixed(2)).join('/')} (planned for ${budgetRounds} rounds, ${o.rounds} + ${budgetRounds - o.rounds} spare, within epsilon ${o.epsilon}, delta ${o.delta}); ${secaggText}`,
    );

    // Hospitals' own systems: FHIR servers on loopback for the FHIR and Bulk sites.
    const fhirBase: Record<string, string> = {};
    for (const s of sites.filter((x) => x.transport !== 'mllp')) {
      const server = await startFhirServer({ resources: demoSiteResources(s) as never });
      servers.push(server);
      fhirBase[s.id] = server.baseUrl;
    }
    p.step(`started ${servers.length} hospital FHIR servers on loopback`);

    // The aggregator. Gateways tell it their /status URL when they register.
    const aggConfig = (port: number) => ({
      server: { host: '127.0.0.1', port },
      log: { level: o.logLevel ?? 'warn' },
      dataDir: join(work, 'aggregator'),
      keyFile: join(keysDir, 'aggregator.key'),
      operatorTokensFile: join(work, 'operator-tokens'),
      pollSeconds: o.pollSeconds ?? 2,
      sites: sites.map((s) => ({ id: s.id, publicKey: publicKeyBase64(siteKeys[s.id] as never) })),
      task: {
        name: task,
        rounds: o.rounds,
        minSites: o.minSites ?? Math.min(3, sites.length),
        startSites: sites.length,
        deadlineSeconds: o.deadlineSeconds ?? 60,
        codec,
        strategy: { name: 'fedavg' },
        evaluation: { metric: 'auroc', patience: 0 },
        hyper: { ...hyper, hidden: [...hyper.hidden] },
        model: { initialFile: join(work, 'initial.f32') },
        ...(codec === 'masking' ? { secagg: { maxDropouts: o.maxDropouts ?? 1, stepSeconds: o.stepSeconds ?? 30 } } : {}),
        ...(paillierKeys ? { secagg: { stepSeconds: o.stepSeconds ?? 30, paillierPublicKeyFile: paillierKeys.publicFile } } : {}),
      },
    });
    let aggStarts = 0;
    const spawnAggregator = (port: number): Child => {
      writeFileSync(join(work, 'aggregator.yaml'), stringify(aggConfig(port)));
      const c = spawnFhirfed(`aggregator-${aggStarts++}`, ['aggregator', '--config', join(work, 'aggregator.yaml')], {}, logs);
      children.push(c);
      return c;
    };
    const first = await startOnFreePort(spawnAggregator);
    let agg = first.child;
    const aggPort = first.port;
    const aggUrl = `http://127.0.0.1:${aggPort}`;
    p.step(`aggregator listening on ${aggUrl}`);
    const gatewayAggUrl = o.gatewayAggregatorUrl ? await o.gatewayAggregatorUrl(aggPort) : aggUrl;

    // One gateway process per hospital.
    const siteSecrets: Record<string, string> = {};
    const gatewayEnv = (s: DemoSite, port: number): NodeJS.ProcessEnv => ({
      REDIS_URL: o.redisUrl,
      FHIRFED_SITE_ID: s.id,
      FHIRFED_SITE_SECRET: (siteSecrets[s.id] ??= `site-secret-${s.id}-${randomBytes(16).toString('hex')}`),
      FHIRFED_STORAGE_DATA_DIR: join(work, s.id),
      FHIRFED_MAPPINGS_DIR: MAPPINGS,
      FHIRFED_SERVER_HOST: '127.0.0.1',
      FHIRFED_SERVER_PORT: String(port),
      FHIRFED_REDIS_KEY_PREFIX: `fhirfed-${task}-${stamp}-${randomBytes(4).toString('hex')}`,
      FHIRFED_LOG_LEVEL: o.logLevel ?? 'warn',
      FHIRFED_AGGREGATOR_URL: gatewayAggUrl,
      FHIRFED_AGGREGATOR_KEY_FILE: join(keysDir, `${s.id}.key`),
      FHIRFED_AGGREGATOR_PUBLIC_KEY: publicKeyBase64(aggKey),
      FHIRFED_AGGREGATOR_TASK: task,
      FHIRFED_AGGREGATOR_STATUS_URL: `http://127.0.0.1:${port}/status`,
      FHIRFED_AGGREGATOR_FOLLOW_SECONDS: '0.5',
      FHIRFED_AUTH_OPERATOR_TOKENS_FILE: join(work, 'operator-tokens'),
      FHIRFED_PRIVACY_MODE: privacyMode,
      FHIRFED_PRIVACY_EPSILON: String(o.epsilon),
      FHIRFED_PRIVACY_DELTA: String(o.delta),
      FHIRFED_PRIVACY_CLIP_NORM: '1',
      FHIRFED_PRIVACY_NOISE_MULTIPLIER: String(noise[s.id]),
      // Join the rounds only once (nearly) the whole feed is harmonized: the noise was planned for these rows.
      FHIRFED_AGGREGATOR_MIN_ROWS: String(o.minRows ?? Math.max(1, Math.floor(s.truth.length * 0.9))),
      FHIRFED_SECAGG_SCHEME: codec,
      FHIRFED_SECAGG_MAX_DROPOUTS: String(codec === 'masking' ? (o.maxDropouts ?? 1) : 0),
      ...(paillierKeys ? { FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE: paillierKeys.publicFile } : {}),
      ...(paillierKeys && s.id === decryptor ? { FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE: paillierKeys.privateFile } : {}),
      FHIRFED_TRAINING_MODEL: hyper.model,
      FHIRFED_TRAINING_HIDDEN: hyper.hidden.join(','),
      FHIRFED_TRAINING_EPOCHS: String(hyper.epochs),
      FHIRFED_TRAINING_BATCH_SIZE: String(hyper.batchSize),
      FHIRFED_TRAINING_LEARNING_RATE: String(hyper.learningRate),
      FHIRFED_TRAINING_HOLDOUT_FRACTION: String(hyper.holdoutFraction),
      FHIRFED_TRAINING_SEED: String(hyper.seed),
      ...(s.transport === 'mllp' ? { FHIRFED_MLLP_ENABLED: 'true', FHIRFED_MLLP_HOST: '127.0.0.1', FHIRFED_MLLP_PORT: '0' } : {}),
      ...(fhirBase[s.id] ? { FHIRFED_FHIR_BASE_URL: fhirBase[s.id], FHIRFED_FHIR_PULL: s.transport === 'bulk-ndjson' ? 'bulk' : 'rest' } : {}),
      ...o.extraGatewayEnv,
    });
    const launched = await Promise.all(
      sites.map((s) =>
        startOnFreePort((port) => {
          const c = spawnFhirfed(s.id, ['serve', '--with-worker'], gatewayEnv(s, port), logs);
          children.push(c);
          return c;
        }),
      ),
    );
    p.step(`started ${sites.length} gateway processes (each: api, MLLP or FHIR pull, training worker)`);
    const gateways = Object.fromEntries(sites.map((s, i) => [s.id, launched[i]?.child as Child]));
    const gatewayPorts = Object.fromEntries(sites.map((s, i) => [s.id, launched[i]?.port as number]));

    // Site C's interface engine sends its HL7v2 feed over MLLP.
    const mllpSite = sites.find((s) => s.transport === 'mllp');
    if (mllpSite?.hl7Messages) {
      const idx = sites.indexOf(mllpSite);
      await sendMllp(mllpSite, launched[idx]?.ready.mllp as number, p);
    }

    const statusUrls = Object.fromEntries(sites.map((s) => [s.id, `http://127.0.0.1:${gatewayPorts[s.id]}/status`]));
    const startAggregator = async (): Promise<void> => {
      agg = spawnAggregator(aggPort);
      await agg.ready;
    };
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
      aggPort,
      operatorToken,
      sites,
      sitesReport,
      siteSecrets,
      gatewayPorts,
      statusUrls,
      hyper,
      aggregator: () => agg,
      gateways,
      started,
      progress: p,
      log: readLog,
      close,
      startAggregator,
      restartAggregator: async () => {
        agg.proc.kill('SIGKILL');
        await new Promise<void>((r) => (agg.proc.exitCode !== null || agg.proc.signalCode !== null ? r() : agg.proc.once('exit', () => r())));
        await startAggregator();
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
