/**
 * The aggregator's own config file (`fhirfed aggregator --config aggregator.yaml`). Separate from the gateway
 * schema because the aggregator runs elsewhere, under another operator, with other secrets. Defaults live here.
 * Relative paths in the file are resolved against the file's folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { codecSchemeSchema, siteIdSchema, taskSchema } from '../messages.js';
import { parsePublicKey, AGGREGATOR_SIGNER } from '../signing.js';
import { STRATEGY_NAMES } from '../strategies/index.js';

const siteSchema = z
  .object({
    id: siteIdSchema.refine((s) => s !== AGGREGATOR_SIGNER, `"${AGGREGATOR_SIGNER}" is reserved for the aggregator itself`),
    publicKey: z.string().min(1).describe('the site\'s ed25519 public key, base64 (32 bytes)'),
    statusUrl: z.url({ protocol: /^https?$/ }).optional().describe('the gateway\'s GET /status URL, polled every pollSeconds'),
  })
  .strict();

export const aggregatorConfigSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1).default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8443),
        bodyLimitBytes: z.number().int().positive().default(64 * 1024 * 1024).describe('largest update or model upload'),
        rateLimitPerSecond: z.number().min(0).default(200).describe('sustained requests per second per client address (429 beyond; 0 = off)'),
        rateLimitBurst: z.number().int().positive().default(400).describe('requests a client may send at once'),
      })
      .strict()
      .prefault({}),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().prefault({}),
    dataDir: z.string().min(1).default('./aggregator-data').describe('state, models by version, updates in flight, audit log'),
    keyFile: z.string().min(1).optional().describe('the aggregator\'s ed25519 secret key: signs its GET /status polls'),
    operatorTokensFile: z.string().min(1).optional().describe('operator bearer tokens (`token scope,scope` per line); scope `admin` may add sites'),
    pollSeconds: z.number().int().min(0).default(30).describe('status poll interval per gateway; 0 = off'),
    maxClockSkewSeconds: z.number().int().positive().default(300),
    nonces: z
      .object({ store: z.enum(['memory', 'redis']).default('memory'), redisUrl: z.string().regex(/^rediss?:\/\//).default('redis://127.0.0.1:6379'), keyPrefix: z.string().min(1).default('fhirfed-agg') })
      .strict()
      .prefault({}),
    sites: z.array(siteSchema).default([]),
    task: z
      .object({
        name: taskSchema,
        rounds: z.number().int().positive().default(10).describe('rounds to complete before stopping'),
        minSites: z.number().int().positive().default(2).describe('updates needed to close a round at its deadline'),
        startSites: z.number().int().positive().optional().describe('registered sites needed before the first round opens; default: every configured site (at least minSites)'),
        fraction: z.number().gt(0).max(1).default(1).describe('share of registered sites selected per round'),
        seed: z.number().int().default(42).describe('seed of participant selection'),
        deadlineSeconds: z.number().positive().default(600),
        stragglers: z.enum(['drop', 'next-round']).default('drop').describe('late updates: refused, or counted in the next round'),
        codec: codecSchemeSchema
          .default('masking')
          .describe('masking: pairwise-masked secure aggregation (the aggregator learns only the sum); paillier: additively homomorphic encryption, one site holding the private key decrypts the sum; plain: updates in the clear (robust strategies, tests)'),
        secagg: z
          .object({
            maxDropouts: z.number().int().min(0).default(1).describe('sites that may drop after the key exchange with the sum still recovered (lowered automatically to what the number of sites allows)'),
            graphDegree: z.number().int().min(2).multipleOf(2).optional().describe('SecAgg+ (Bell et al. 2020): mask with this many ring neighbours instead of every site'),
            fractionalBits: z.number().int().min(0).max(30).default(16).describe('fixed-point precision; see src/secagg/fixedpoint.ts for range and error'),
            sampleScale: z.number().positive().default(100).describe('a site weights its update by numSamples / sampleScale inside the secure sum'),
            stepSeconds: z.number().positive().default(60).describe('deadline of each protocol step after the first (the first is the round deadline)'),
            paillierPublicKeyFile: z.string().min(1).optional().describe('codec paillier: the federation\'s Paillier public key (paillier.pub.json from `fhirfed secagg paillier-keygen`); the aggregator never gets the private key'),
          })
          .strict()
          .prefault({}),
        strategy: z
          .object({
            name: z.enum(STRATEGY_NAMES).default('fedavg'),
            serverLr: z.number().positive().optional(),
            beta1: z.number().min(0).lt(1).optional(),
            beta2: z.number().min(0).lt(1).optional(),
            tau: z.number().positive().optional(),
            trimFraction: z.number().min(0).lt(0.5).optional(),
            mu: z.number().min(0).optional().describe('FedProx μ, announced to the sites as hyper.proxMu'),
          })
          .strict()
          .prefault({}),
        weighting: z
          .object({ mode: z.enum(['samples', 'adaptive']).default('samples'), lambda: z.number().min(0).default(2) })
          .strict()
          .prefault({}),
        evaluation: z
          .object({
            metric: z.enum(['auroc', 'f1']).default('auroc').describe('holdout metric, averaged over heads and weighted by holdout rows'),
            patience: z.number().int().min(0).default(3).describe('rounds without improvement before stopping; 0 = never stop early'),
            minDelta: z.number().min(0).default(0),
          })
          .strict()
          .prefault({}),
        hyper: z.record(z.string(), z.unknown()).default({}).describe('training hyper-parameters announced with each round'),
        model: z
          .object({
            initialFile: z.string().min(1).optional().describe('initial global weights: raw little-endian Float32 (.f32)'),
            parameters: z.number().int().positive().optional().describe('without initialFile: start from zeros of this length'),
          })
          .strict()
          .prefault({})
          .refine((m) => m.initialFile !== undefined || m.parameters !== undefined, 'set model.initialFile or model.parameters'),
      })
      .strict(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.sites.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'id'], message: `site ${s.id} is listed twice` });
      seen.add(s.id);
    });
    if (c.task.codec !== 'plain') {
      if (c.task.weighting.mode === 'adaptive') {
        ctx.addIssue({ code: 'custom', path: ['task', 'weighting', 'mode'], message: `adaptive weighting needs each site's quality statistics next to its update; with ${c.task.codec} only the sum is revealed (use samples, or codec plain)` });
      }
      if (c.task.stragglers === 'next-round') {
        ctx.addIssue({ code: 'custom', path: ['task', 'stragglers'], message: `a late update cannot be carried into the next round with ${c.task.codec}: it is only usable inside its own round's secure sum (use drop)` });
      }
      if (c.task.codec === 'paillier' && !c.task.secagg.paillierPublicKeyFile) {
        ctx.addIssue({ code: 'custom', path: ['task', 'secagg', 'paillierPublicKeyFile'], message: 'codec paillier needs the federation\'s Paillier public key file (create the pair with `fhirfed secagg paillier-keygen --out DIR` and set task.secagg.paillierPublicKeyFile to DIR/paillier.pub.json)' });
      }
      if (c.task.minSites < 2) {
        ctx.addIssue({ code: 'custom', path: ['task', 'minSites'], message: `secure aggregation (${c.task.codec}) needs minSites >= 2: the sum of one site is that site's update` });
      }
    }
    if (c.task.minSites > Math.max(1, c.sites.length) && c.sites.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['task', 'minSites'], message: `minSites ${c.task.minSites} exceeds the ${c.sites.length} configured site(s)` });
    }
  });

export type AggregatorConfig = z.output<typeof aggregatorConfigSchema>;
export type AggregatorConfigInput = z.input<typeof aggregatorConfigSchema>;

/** Validates an object (tests, or a file's content); `baseDir` resolves relative paths. */
export function parseAggregatorConfig(input: unknown, file?: string, lineOf?: (path: readonly PropertyKey[]) => number | undefined): AggregatorConfig {
  const r = aggregatorConfigSchema.safeParse(input);
  if (!r.success) {
    const details = r.error.issues.map((i) => {
      const line = lineOf?.(i.path);
      return { ...(file ? { file } : {}), ...(line ? { line } : {}), path: i.path.map(String).join('.'), message: i.message };
    });
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `aggregator config is invalid (${details.length} problem(s))`, {
      ...(file ? { where: { file } } : {}),
      details,
      hint: 'see src/federation/aggregator/config.ts for every key and its default',
    });
  }
  const c = r.data;
  c.sites.forEach((s, i) => parsePublicKey(s.publicKey, `sites[${i}].publicKey`));
  if (file) {
    const base = dirname(file);
    const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
    c.dataDir = abs(c.dataDir);
    if (c.keyFile) c.keyFile = abs(c.keyFile);
    if (c.operatorTokensFile) c.operatorTokensFile = abs(c.operatorTokensFile);
    if (c.task.model.initialFile) c.task.model.initialFile = abs(c.task.model.initialFile);
    if (c.task.secagg.paillierPublicKeyFile) c.task.secagg.paillierPublicKeyFile = abs(c.task.secagg.paillierPublicKeyFile);
  }
  return c;
}

export function loadAggregatorConfig(file: string): AggregatorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `cannot read the aggregator config (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
      where: { file },
      hint: 'check the --config path',
    });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', 'the aggregator config is not valid YAML', {
      where: { file },
      details: doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, message: e.message.split('\n')[0] ?? 'YAML error' })),
    });
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return parseAggregatorConfig(doc.toJS() ?? {}, resolve(file), lineOf);
}
