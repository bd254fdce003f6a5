import { z } from 'zod';

/**
 * The one configuration schema. Types come from it, defaults live here and nowhere else, and the README's
 * configuration reference is generated from it (`npm run docs:config`). Every leaf can be set in the YAML file
 * (`--config`) or by an environment variable named after its path: `server.port` -> `FHIRFED_SERVER_PORT`,
 * `mllp.maxMessageBytes` -> `FHIRFED_MLLP_MAX_MESSAGE_BYTES`. Environment wins over the file.
 * Secrets are never values here: only paths to files (mounted Kubernetes Secrets) or environment variables.
 */

const port = z.number().int().min(0).max(65535);
const secretFile = z
  .string()
  .min(1)
  .optional()
  .describe('path to a file holding the secret (e.g. a mounted Kubernetes Secret); never the secret itself');

const urlString = z.url({ protocol: /^https?$/ });

export const configSchema = z
  .object({
    site: z
      .object({
        id: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63 characters')
          .default('local')
          .describe('this hospital\'s site id in the federation; also the folder under mappings/sites'),
        secretFile: secretFile.describe(
          'file with the site secret used to derive patient pseudonyms (HMAC-SHA-256); or set FHIRFED_SITE_SECRET',
        ),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        host: z.string().min(1).default('0.0.0.0').describe('address the HTTP API listens on'),
        port: port.default(8080).describe('HTTP API port (health, metrics, status, FHIR POST)'),
        bodyLimitBytes: z.number().int().positive().default(10 * 1024 * 1024).describe('largest accepted request body'),
        trustProxy: z.boolean().default(false).describe('honour X-Forwarded-* headers (behind an ingress)'),
        rateLimitPerSecond: z.number().min(0).default(200).describe('sustained HTTP requests per second per client address (429 beyond; 0 = off; /healthz and /readyz exempt)'),
        rateLimitBurst: z.number().int().positive().default(400).describe('HTTP requests a client may send at once before rateLimitPerSecond applies'),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
          .default('redis://127.0.0.1:6379')
          .describe('Redis for the training queue; REDIS_URL is honoured too (FHIRFED_REDIS_URL wins)'),
        keyPrefix: z.string().min(1).default('fhirfed').describe('prefix for every Redis key and queue'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        dataDir: z.string().min(1).default('./data').describe('folder for the ledger and feature store (a volume in Kubernetes)'),
      })
      .strict()
      .prefault({}),
    mllp: z
      .object({
        enabled: z.boolean().default(false).describe('start the HL7v2 MLLP listener with `serve`'),
        host: z.string().min(1).default('0.0.0.0').describe('MLLP listen address'),
        port: port.default(2575).describe('MLLP listen port'),
        ackMode: z.enum(['original', 'enhanced']).default('original').describe('HL7 acknowledgement mode'),
        maxMessageBytes: z.number().int().positive().default(1024 * 1024).describe('larger frames are refused with AR'),
        maxConnections: z.number().int().positive().default(64).describe('concurrent MLLP connections'),
        tlsCertFile: z.string().optional().describe('PEM certificate: enables MLLP over TLS together with tlsKeyFile'),
        tlsKeyFile: z.string().optional().describe('PEM private key for MLLP over TLS'),
      })
      .strict()
      .prefault({}),
    fhir: z
      .object({
        baseUrl: urlString.optional().describe('FHIR R4 server to pull from (REST search and Bulk $export)'),
        pageSize: z.number().int().min(1).max(1000).default(100).describe('_count for REST searches'),
        resourceTypes: z
          .array(z.string().regex(/^[A-Z][A-Za-z]+$/, 'a FHIR resource type name'))
          .default(['Patient', 'Observation', 'MedicationRequest', 'Condition', 'Encounter'])
          .describe('resource types to pull (comma-separated in env)'),
        tokenFile: secretFile.describe('file with a bearer token for the FHIR server'),
        smartClientId: z.string().optional().describe('SMART backend-services client id (enables client-credentials JWT auth)'),
        smartPrivateKeyFile: secretFile.describe('PEM key signing the SMART client assertion'),
        allowedHosts: z.array(z.string()).default([]).describe('if set, the only hosts FHIR URLs may point to (SSRF guard)'),
        pull: z.enum(['rest', 'bulk']).default('rest').describe('how to pull: REST search with _lastUpdated, or Bulk Data $export'),
        pullSeconds: z.number().min(0).default(0).describe('pull every N seconds (0: at start-up and before each training job only)'),
      })
      .strict()
      .prefault({}),
    mappings: z
      .object({
        dir: z.string().min(1).default('./mappings').describe('folder with schema.yaml and sites/<site>/'),
        customTransformersDir: z.string().optional().describe('folder of custom transformer modules (cannot escape it)'),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        model: z.enum(['logreg', 'mlp']).default('mlp').describe('model family: logistic regression or multi-task MLP'),
        hidden: z.array(z.number().int().positive()).default([32, 16]).describe('MLP shared-trunk layer sizes'),
        epochs: z.number().int().positive().default(5).describe('local epochs per round'),
        batchSize: z.number().int().positive().default(32).describe('local mini-batch size'),
        learningRate: z.number().positive().default(0.01).describe('local optimiser learning rate'),
        proxMu: z.number().min(0).default(0).describe('FedProx proximal term weight (0 = off)'),
        holdoutFraction: z.number().gt(0).lt(1).default(0.2).describe('stratified local holdout share'),
        seed: z.number().int().default(42).describe('seed for the local split and initialisation'),
        concurrency: z.number().int().positive().default(1).describe('training jobs run at once by a worker'),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        epsilon: z.number().positive().default(8).describe('site privacy budget: total epsilon'),
        delta: z.number().gt(0).lt(1).default(1e-5).describe('site privacy budget: delta'),
        mode: z.enum(['sample', 'client', 'off']).default('sample').describe('sample-level DP-SGD (per-example clipping), client-level (noise on the update), or off'),
        clipNorm: z.number().positive().default(1).describe('L2 clip norm of an update (client) or gradient (sample)'),
        adaptiveClipping: z.boolean().default(false).describe('adapt the clip norm to a target quantile (Andrew et al. 2021)'),
        noiseMultiplier: z.number().min(0).default(1).describe('Gaussian noise std / clip norm'),
      })
      .strict()
      .prefault({}),
    secagg: z
      .object({
        scheme: z.enum(['masking', 'paillier', 'plain']).default('masking').describe('secure aggregation codec (must match the aggregator\'s task.codec)'),
        maxDropouts: z.number().int().min(0).default(1).describe('sites that may drop after key exchange with the sum still recovered'),
        paillierPublicKeyFile: z
          .string()
          .min(1)
          .optional()
          .describe('scheme paillier: the federation\'s Paillier public key (paillier.pub.json from `fhirfed secagg paillier-keygen`)'),
        paillierPrivateKeyFile: secretFile.describe(
          'scheme paillier: the federation\'s Paillier private key (paillier.key.json); only on sites allowed to decrypt the aggregate',
        ),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.scheme === 'paillier' && !s.paillierPublicKeyFile) {
          ctx.addIssue({
            code: 'custom',
            path: ['paillierPublicKeyFile'],
            message: 'secagg.scheme paillier needs secagg.paillierPublicKeyFile (create the federation key pair with `fhirfed secagg paillier-keygen --out DIR`)',
          });
        }
      })
      .prefault({}),
    aggregator: z
      .object({
        url: urlString.optional().describe('the federation aggregator this gateway reports to'),
        keyFile: secretFile.describe('this site\'s ed25519 private key for signed requests'),
        publicKey: z
          .string()
          .regex(/^[A-Za-z0-9+/_-]{43}=?$/, 'a base64 ed25519 public key (32 bytes)')
          .optional()
          .describe('the aggregator\'s ed25519 public key: verifies its signed GET /status polls'),
        task: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, ".", "_" or "-"').default('default').describe('the federation task this gateway follows'),
        statusUrl: urlString.optional().describe('public URL of this gateway\'s GET /status, sent when it registers'),
        followSeconds: z.number().positive().default(10).describe('how often the gateway asks the aggregator for the current round'),
        minRows: z.number().int().min(1).default(20).describe('harmonized feature rows this site needs before it joins the rounds'),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        operatorTokensFile: secretFile.describe('file with operator bearer tokens, one `token scope,scope` per line'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The validated, frozen configuration passed down to every layer. */
export type Config = Readonly<z.output<typeof configSchema>>;
/** What a YAML file may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
