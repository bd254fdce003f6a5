import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments, parseDocument, isMap, isPair, isScalar, stringify, type YAMLMap } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configLeaves, loadConfig } from '../../src/config/index.js';
import { NON_CONFIG_ENV } from '../../src/config/env.js';
import { configSchema } from '../../src/config/schema.js';
import { isFhirfedError } from '../../src/core/errors.js';
import { parseAggregatorConfig } from '../../src/federation/aggregator/config.js';
import { codecSchemeSchema } from '../../src/federation/messages.js';
import { generatePaillierKeyFiles, loadPaillierPrivateKey, loadPaillierPublicKey } from '../../src/secagg/index.js';

const CHART = join(process.cwd(), 'helm', 'fhirfed');
const TEMPLATES = join(CHART, 'templates');
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
const examples = readdirSync(join(CHART, 'examples')).filter((f) => f.endsWith('.yaml'));
const templateFiles = Object.fromEntries(readdirSync(TEMPLATES).map((f) => [f, readFileSync(join(TEMPLATES, f), 'utf8')])) as Record<string, string>;
const templateText = Object.values(templateFiles).join('\n');

function deepMerge(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

function has(obj: unknown, path: string[]): boolean {
  let node = obj;
  for (const key of path) {
    if (!node || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

describe('helm/fhirfed values', () => {
  it('values.yaml validates against values.schema.json', () => {
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(examples)('examples/%s merged over values.yaml validates against the schema', (file) => {
    const example = parse(readFileSync(join(CHART, 'examples', file), 'utf8')) as unknown;
    const merged = deepMerge(values, example);
    expect(validate(merged), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the schema refuses typos and unsafe settings (so the checks above can fail)', () => {
    expect(validate(deepMerge(values, { persistance: { size: '1Gi' } }))).toBe(false);
    expect(validate(deepMerge(values, { containerSecurityContext: { allowPrivilegeEscalation: true } }))).toBe(false);
    expect(validate(deepMerge(values, { redis: { enabled: false } }))).toBe(false);
    expect(validate(deepMerge(values, { api: { port: 70000 } }))).toBe(false);
  });

  it('every value in values.yaml has a ## @param comment, and every @param names a value', () => {
    const text = readFileSync(join(CHART, 'values.yaml'), 'utf8');
    const params = new Set([...text.matchAll(/^\s*## @param (\S+)/gm)].map((m) => m[1] as string));
    const doc = parseDocument(text);
    const leaves: string[] = [];
    const walk = (node: YAMLMap, prefix: string[]) => {
      for (const item of node.items) {
        if (!isPair(item) || !isScalar(item.key)) continue;
        const path = [...prefix, String(item.key.value)];
        const name = path.join('.');
        // A documented map (config, resources, securityContext ...) is one value; otherwise descend.
        if (isMap(item.value) && !params.has(name) && item.value.items.length > 0) walk(item.value, path);
        else leaves.push(name);
      }
    };
    if (isMap(doc.contents)) walk(doc.contents, []);
    const undocumented = leaves.filter((l) => !params.has(l));
    expect(undocumented).toEqual([]);
    const dangling = [...params].filter((p) => !has(values, p.split('.')));
    expect(dangling).toEqual([]);
  });

  it('every .Values reference in the templates exists in values.yaml', () => {
    const refs = new Set([...templateText.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => (m[1] as string).slice(1)));
    expect(refs.size).toBeGreaterThan(30);
    const missing = [...refs].filter((r) => !has(values, r.split('.')));
    expect(missing).toEqual([]);
  });

  it('the fhirfed config the chart renders from values is valid for the app', () => {
    // The chart owns these keys (see _helpers.tpl fhirfed.configYaml); the rest is values.config.
    const config = deepMerge(values.config, {
      site: { id: (values.site as { id: string }).id, secretFile: '/var/run/secrets/fhirfed/site-secret' },
      server: { port: (values.api as { port: number }).port, host: '0.0.0.0' },
      storage: { dataDir: '/data' },
      mappings: { dir: '/etc/fhirfed/mappings' },
      log: { level: values.logLevel },
      mllp: { port: (values.api as { mllpPort: number }).mllpPort },
      aggregator: { keyFile: '/var/run/secrets/fhirfed/aggregator-key' },
      auth: { operatorTokensFile: '/var/run/secrets/fhirfed/operator-tokens' },
    });
    const r = configSchema.safeParse(config);
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
    for (const file of examples) {
      const ex = parse(readFileSync(join(CHART, 'examples', file), 'utf8')) as { config?: unknown };
      const rr = configSchema.safeParse(deepMerge(config, ex.config ?? {}));
      expect(rr.success, `${file}: ${JSON.stringify(rr.error?.issues)}`).toBe(true);
    }
  });
});

describe('chart and Dockerfile agree with the app', () => {
  const dockerfile = readFileSync(join(process.cwd(), 'docker', 'Dockerfile'), 'utf8');
  const defaults = configSchema.parse({});

  it('the image entrypoint runs the fhirfed CLI and its default command exists', () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/fhirfed\.js"\]$/m);
    const cmd = /^CMD \["([a-z-]+)"\]$/m.exec(dockerfile)?.[1];
    expect(cmd).toBe('serve');
  });

  it('EXPOSE and the chart ports are the app defaults', () => {
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(/\s+/).map(Number) ?? [];
    expect(exposed).toEqual([defaults.server.port, defaults.mllp.port]);
    expect((values.api as { port: number }).port).toBe(defaults.server.port);
    expect((values.api as { mllpPort: number }).mllpPort).toBe(defaults.mllp.port);
  });

  it('the HEALTHCHECK and the probes use the app health endpoints', () => {
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(templateText).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(templateText).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    const app = readFileSync(join(process.cwd(), 'src', 'api', 'app.ts'), 'utf8');
    expect(app).toContain("app.get('/healthz'");
    expect(app).toContain("app.get('/readyz'");
  });

  it('every container command the chart runs is a fhirfed command', () => {
    const help = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'fhirfed.js'), '--help'], { encoding: 'utf8' }).stdout;
    const commands = [...templateText.matchAll(/args: \["([a-z][a-z-]*)"/g)].map((m) => m[1] as string);
    expect(commands.sort()).toEqual(['aggregator', 'serve', 'worker']);
    for (const c of commands) expect(help).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('the image runs as a non-root user and the chart keeps the root file system read-only', () => {
    expect(dockerfile).toMatch(/^USER node$/m);
    expect((values.containerSecurityContext as { readOnlyRootFilesystem: boolean }).readOnlyRootFilesystem).toBe(true);
    expect(templateText).toMatch(/mountPath: \/tmp/);
  });
});

const hasHelm = spawnSync('sh', ['-c', 'command -v helm'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!hasHelm)('helm lint and template (needs helm on PATH; skipped when absent)', () => {
  it('helm lint passes', () => {
    const r = spawnSync('helm', ['lint', CHART, '--strict'], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
  it.each(examples)('helm template renders examples/%s', (file) => {
    const r = spawnSync('helm', ['template', 't', CHART, '-f', join(CHART, 'examples', file)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  const render = (args: string[]) => spawnSync('helm', ['template', 't', CHART, ...args], { encoding: 'utf8' });
  const manifests = (out: string) =>
    parseAllDocuments(out)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; spec?: unknown } | null)
      .filter((d): d is NonNullable<typeof d> => d !== null);
  const gatewayEnv = (docs: ReturnType<typeof manifests>) =>
    docs
      .filter((d) => d.kind === 'Deployment' && /-(api|worker)$/.test(d.metadata?.name ?? ''))
      .map((d) => (d.spec as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }).template.spec.containers[0]?.env ?? []);

  it('paillier without a public key fails the render with a message naming the value (gateway and aggregator)', () => {
    const site = render(['--set', 'secagg.scheme=paillier']);
    expect(site.status).not.toBe(0);
    expect(site.stderr).toContain('secagg.paillierPublicKey is empty');
    const agg = render(['--set', 'aggregator.enabled=true', '--set', 'aggregator.codec=paillier']);
    expect(agg.status).not.toBe(0);
    expect(agg.stderr).toContain('aggregator.codec is paillier but secagg.paillierPublicKey is empty');
  });

  it('renders a decrypting site: the private key only in the Secret, the key paths in both pods', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-helm-'));
    try {
      const keyFile = join(dir, 'paillier.key.json');
      const fakeKey = '{"v": 1, "type": "paillier-private-key", "n": "PRIVATE-KEY-MARKER"}\n';
      writeFileSync(keyFile, fakeKey);
      const r = render(['-f', join(CHART, 'examples', 'hospital-paillier.yaml'), '--set', 'secrets.existingSecret=', '--set-file', `secrets.paillierPrivateKey=${keyFile}`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).not.toContain('PRIVATE-KEY-MARKER');
      const docs = manifests(r.stdout);
      const secret = docs.find((d) => d.kind === 'Secret');
      expect(Buffer.from(secret?.data?.['paillier-private-key'] ?? '', 'base64').toString('utf8')).toBe(fakeKey);
      for (const cm of docs.filter((d) => d.kind === 'ConfigMap')) expect(JSON.stringify(cm.data ?? {})).not.toContain('paillier-private-key');
      const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata?.name?.endsWith('-config'));
      expect(config?.data?.['paillier.pub.json']).toContain('"paillier-public-key"');
      const envs = gatewayEnv(docs);
      expect(envs).toHaveLength(2);
      for (const env of envs) {
        const byName = Object.fromEntries(env.map((e) => [e.name, e.value]));
        expect(byName.FHIRFED_SECAGG_SCHEME).toBe('paillier');
        expect(byName.FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE).toBe('/etc/fhirfed/paillier.pub.json');
        expect(byName.FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE).toBe('/var/run/secrets/fhirfed/paillier-private-key');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a masking site gets no Paillier key paths; a paillier site without the private key gets only the public one', () => {
    const a = render(['-f', join(CHART, 'examples', 'hospital-a.yaml')]);
    expect(a.status, a.stderr).toBe(0);
    const masking = gatewayEnv(manifests(a.stdout));
    expect(masking).toHaveLength(2);
    for (const env of masking) {
      expect(env.find((e) => e.name === 'FHIRFED_SECAGG_SCHEME')?.value).toBe('masking');
      expect(env.map((e) => e.name).filter((n) => n.includes('PAILLIER'))).toEqual([]);
    }
    const r = render(['-f', join(CHART, 'examples', 'hospital-paillier.yaml'), '--set', 'secagg.paillierDecrypt=false']);
    expect(r.status, r.stderr).toBe(0);
    const paillier = gatewayEnv(manifests(r.stdout));
    expect(paillier).toHaveLength(2);
    for (const env of paillier) {
      expect(env.map((e) => e.name).filter((n) => n.includes('PAILLIER'))).toEqual(['FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE']);
    }
  });
});

describe('helm/fhirfed secure aggregation (Paillier)', () => {
  const helpers = templateFiles['_helpers.tpl'] ?? '';
  const define = (name: string) => new RegExp(`define "${name.replace(/\./g, '\\.')}" -\\}\\}([^{]*)\\{\\{- end`).exec(helpers)?.[1] ?? '';
  const publicPath = define('fhirfed.paillierPublicKeyPath');
  const privatePath = define('fhirfed.paillierPrivateKeyPath');
  const schemaProps = (schema as { properties: Record<string, { properties: Record<string, { enum?: string[]; type?: string }> }> }).properties;
  const examplePaillier = parse(readFileSync(join(CHART, 'examples', 'hospital-paillier.yaml'), 'utf8')) as {
    secagg: { scheme: string; paillierPublicKey: string; paillierDecrypt: boolean };
    config?: unknown;
  };

  it('values.yaml and the schema have the secagg values, with the app\'s schemes', () => {
    expect(values.secagg).toEqual({ scheme: 'masking', paillierPublicKey: '', paillierDecrypt: false });
    expect((values.secrets as Record<string, unknown>).paillierPrivateKey).toBe('');
    expect((values.aggregator as Record<string, unknown>).codec).toBe('masking');
    // The scheme is chart-owned now: the default config must not set it too (the chart fails on a contradiction).
    expect(has(values.config, ['secagg', 'scheme'])).toBe(false);
    const appSchemes = configLeaves().find((l) => l.env === 'FHIRFED_SECAGG_SCHEME')?.enum;
    expect([...(schemaProps.secagg?.properties.scheme?.enum ?? [])].sort()).toEqual([...(appSchemes ?? [])].map(String).sort());
    expect([...(schemaProps.aggregator?.properties.codec?.enum ?? [])].sort()).toEqual([...codecSchemeSchema.options].sort());
    expect(schemaProps.secagg?.properties.paillierPublicKey?.type).toBe('string');
    expect(schemaProps.secagg?.properties.paillierDecrypt?.type).toBe('boolean');
    expect(schemaProps.secrets?.properties.paillierPrivateKey?.type).toBe('string');
  });

  it('the schema refuses a bad scheme or codec, a key in the wrong place and unknown secagg keys', () => {
    expect(validate(deepMerge(values, { secagg: { scheme: 'paillier' } }))).toBe(true);
    expect(validate(deepMerge(values, { secagg: { scheme: 'rsa' } }))).toBe(false);
    expect(validate(deepMerge(values, { secagg: { scheme: 'Paillier' } }))).toBe(false);
    expect(validate(deepMerge(values, { aggregator: { codec: 'secure' } }))).toBe(false);
    expect(validate(deepMerge(values, { secagg: { paillierPublicKeyFile: '/keys/paillier.pub.json' } }))).toBe(false);
    expect(validate(deepMerge(values, { secagg: { paillierDecrypt: 'yes' } }))).toBe(false);
    const pub = examplePaillier.secagg.paillierPublicKey;
    const priv = pub.replace('"paillier-public-key"', '"paillier-private-key"');
    expect(validate(deepMerge(values, { secagg: { paillierPublicKey: pub }, secrets: { paillierPrivateKey: priv } })), JSON.stringify(validate.errors)).toBe(true);
    // The private key pasted as the public one would land in a ConfigMap: refused.
    expect(validate(deepMerge(values, { secagg: { paillierPublicKey: priv } }))).toBe(false);
    expect(validate(deepMerge(values, { secrets: { paillierPrivateKey: pub } }))).toBe(false);
    expect(validate(deepMerge(values, { secagg: { paillierPublicKey: 'not json' } }))).toBe(false);
  });

  it('every FHIRFED_* variable the templates set is one the app reads', () => {
    const names = [...templateText.matchAll(/name: (FHIRFED_[A-Z0-9_]+)/g)].map((m) => m[1] as string);
    expect(names).toEqual(expect.arrayContaining(['FHIRFED_SECAGG_SCHEME', 'FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE', 'FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE']));
    const known = new Set([...configLeaves().map((l) => l.env), ...NON_CONFIG_ENV]);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });

  it('the gateway key paths point at what the pods mount: the ConfigMap for the public key, the Secret for the private one', () => {
    expect(publicPath).toBe('/etc/fhirfed/paillier.pub.json');
    expect(helpers).toMatch(/name: FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE\s+value: \{\{ include "fhirfed\.paillierPublicKeyPath" \. \}\}/);
    expect(helpers).toMatch(/name: FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE\s+value: \{\{ include "fhirfed\.paillierPrivateKeyPath" \. \}\}/);
    // Public key: a subPath mount of the config volume (a ConfigMap), for the gateway pods and the aggregator alike.
    const pubMount = /- name: config\s+mountPath: \{\{ include "fhirfed\.paillierPublicKeyPath" \. \}\}\s+subPath: paillier\.pub\.json/;
    expect(helpers).toMatch(pubMount);
    expect(templateFiles['aggregator.yaml']).toMatch(pubMount);
    expect(helpers).toMatch(/- name: config\s+configMap:/);
    expect(templateFiles['configmap.yaml']).toMatch(/paillier\.pub\.json: \|\s+\{\{- \.Values\.secagg\.paillierPublicKey \| trim \| nindent 4 \}\}/);
    expect(templateFiles['aggregator.yaml']).toMatch(/paillier\.pub\.json: \|\s+\{\{- \.Values\.secagg\.paillierPublicKey \| trim \| nindent 4 \}\}/);
    // Private key: a file of the secrets volume (mounted at /var/run/secrets/fhirfed), named after its Secret key.
    expect(helpers).toMatch(/- name: secrets\s+mountPath: \/var\/run\/secrets\/fhirfed\s/);
    expect(helpers).toMatch(/- name: secrets\s+secret:\s+secretName:/);
    expect(privatePath).toBe('/var/run/secrets/fhirfed/paillier-private-key');
    expect(templateFiles['secret.yaml']).toMatch(/^ {2}paillier-private-key: \{\{ \.Values\.secrets\.paillierPrivateKey \| b64enc \| quote \}\}$/m);
    // The secrets volume projects every key without `items`, so a Secret without paillier-private-key still mounts.
    const secretsVolume = /- name: secrets\s+secret:([\s\S]*?)\n- name:/.exec(helpers)?.[1] ?? '';
    expect(secretsVolume).toContain('secretName:');
    expect(secretsVolume).not.toContain('items:');
    // The config points at the private key only on a decrypting site, and only with scheme paillier.
    expect(helpers).toMatch(/\{\{- if include "fhirfed\.paillierDecrypts" \. \}\}\s+- name: FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE/);
    expect(define('fhirfed.paillierDecrypts')).toBe('');
    expect(helpers).toMatch(/define "fhirfed\.paillierDecrypts" -\}\}\s*\{\{- if and \(eq \.Values\.secagg\.scheme "paillier"\) \(or \.Values\.secrets\.paillierPrivateKey \.Values\.secagg\.paillierDecrypt\) -\}\}true/);
  });

  it('the Paillier private key only goes into a Secret, never a ConfigMap or the aggregator', () => {
    for (const [file, text] of Object.entries(templateFiles)) {
      // Where the key content is written out (not merely tested in an `if`), the file must be the Secret.
      const writes = [...text.matchAll(/\{\{-?\s*([^}]*)\}\}/g)]
        .map((m) => (m[1] as string).trim())
        .filter((a) => a.includes('.Values.secrets.paillierPrivateKey') && !/^(if|else if|fail)\b/.test(a) && !/^\$?\w* ?:?= ?/.test(a));
      if (file === 'secret.yaml') {
        expect(writes).toEqual(['.Values.secrets.paillierPrivateKey | b64enc | quote']);
        expect(text).toMatch(/^kind: Secret$/m);
      } else {
        expect(writes, file).toEqual([]);
      }
      if (/^kind: ConfigMap$/m.test(text)) {
        expect(text, file).not.toMatch(/paillierPrivateKey|paillier-private-key|paillier\.key\.json/);
      }
      // The whole secrets map may only be hashed, never rendered.
      for (const m of text.matchAll(/(toYaml|toJson|toString) \.Values\.secrets\b([^}]*)\}\}/g)) expect(m[2], file).toMatch(/^\s*\| sha256sum\s*$/);
    }
    expect(templateFiles['aggregator.yaml']).not.toMatch(/paillierPrivateKey|paillier-private-key|secretName/);
  });

  it('paillier without a public key fails the render with a clear message, for the gateway and the aggregator', () => {
    const failAfter = (cond: string) =>
      new RegExp(`\\{\\{- if and ${cond.replace(/[.()]/g, '\\$&')} -\\}\\}\\s*\\{\\{- fail "([^"]+)"`).exec(helpers)?.[1] ?? '';
    const site = failAfter('(eq .Values.secagg.scheme "paillier") (not .Values.secagg.paillierPublicKey)');
    expect(site).toMatch(/secagg\.paillierPublicKey is empty.*paillier-keygen.*--set-file secagg\.paillierPublicKey=/);
    const agg = failAfter('(eq .Values.aggregator.codec "paillier") (not .Values.secagg.paillierPublicKey)');
    expect(agg).toMatch(/aggregator\.codec is paillier.*secagg\.paillierPublicKey is empty/);
    // The checks run wherever the config is rendered.
    expect(helpers).toMatch(/define "fhirfed\.configYaml" -\}\}\s*\{\{- include "fhirfed\.checkSecagg" \. -\}\}/);
    expect(templateFiles['configmap.yaml']).toContain('include "fhirfed.configYaml" .');
    expect(templateFiles['aggregator.yaml']).toContain('include "fhirfed.aggregatorYaml" .');
  });

  it('a change of the public key rolls the pods (checksum annotations)', () => {
    expect(helpers).toMatch(/checksum\/secagg: \{\{ toJson \.Values\.secagg \| sha256sum \}\}/);
    expect(templateFiles['deployment-api.yaml']).toContain('include "fhirfed.checksums" .');
    expect(templateFiles['deployment-worker.yaml']).toContain('include "fhirfed.checksums" .');
    expect(templateFiles['aggregator.yaml']).toMatch(/checksum\/paillier-public-key: \{\{ \.Values\.secagg\.paillierPublicKey \| sha256sum \}\}/);
  });

  it('the example paillier site loads: its config, env and public key file pass the app\'s own checks', async () => {
    expect(examplePaillier.secagg.scheme).toBe('paillier');
    expect(examplePaillier.secagg.paillierDecrypt).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-helm-paillier-'));
    try {
      // What the pods get: the ConfigMap's paillier.pub.json (trimmed, one newline) and FHIRFED_SECAGG_* from the chart.
      const pubFile = join(dir, 'paillier.pub.json');
      writeFileSync(pubFile, `${examplePaillier.secagg.paillierPublicKey.trim()}\n`);
      const configFile = join(dir, 'config.yaml');
      writeFileSync(configFile, stringify(deepMerge(values.config, examplePaillier.config ?? {})));
      const { config } = loadConfig({ file: configFile, env: { FHIRFED_SECAGG_SCHEME: 'paillier', FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE: pubFile } });
      expect(config.secagg.scheme).toBe('paillier');
      const pk = loadPaillierPublicKey(config.secagg.paillierPublicKeyFile ?? '', 'secagg.paillierPublicKeyFile');
      expect(pk.bitLength).toBeGreaterThanOrEqual(2047);
      // Without the public key path the app refuses scheme paillier, as the chart does.
      let refused: unknown;
      try {
        loadConfig({ file: configFile, env: { FHIRFED_SECAGG_SCHEME: 'paillier' } });
      } catch (e) {
        refused = e;
      }
      expect(isFhirfedError(refused) && refused.code).toBe('FHIRFED_ERR_CONFIG_INVALID');
      expect(isFhirfedError(refused) ? refused.details.map((d) => d.path) : []).toContain('secagg.paillierPublicKeyFile');
      // A private key file as the chart stores it (the Secret's bytes) belongs to its public key.
      const keys = await generatePaillierKeyFiles(join(dir, 'keys'), 1024);
      const pub = loadPaillierPublicKey(keys.publicFile, 'secagg.paillierPublicKeyFile');
      const mounted = join(dir, 'paillier-private-key');
      writeFileSync(mounted, readFileSync(keys.privateFile));
      expect(loadPaillierPrivateKey(mounted, 'secagg.paillierPrivateKeyFile', pub).publicKey.n).toBe(pub.n);
      expect(() => loadPaillierPrivateKey(mounted, 'secagg.paillierPrivateKeyFile', pk)).toThrow(/does not belong/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the aggregator config the chart renders for codec paillier is valid for the aggregator', () => {
    // Mirrors fhirfed.aggregatorYaml: aggregator.config plus server, dataDir, task.codec and the public key path.
    const agg = values.aggregator as { config: { task: Record<string, unknown> }; port: number };
    const rendered = deepMerge(agg.config, {
      server: { host: '0.0.0.0', port: agg.port },
      dataDir: '/data',
      sites: [],
      task: { codec: 'paillier', minSites: 2, secagg: { paillierPublicKeyFile: publicPath } },
    });
    expect(parseAggregatorConfig(rendered).task.secagg.paillierPublicKeyFile).toBe(publicPath);
    const withoutKey = deepMerge(agg.config, { task: { codec: 'paillier' } });
    expect(() => parseAggregatorConfig(withoutKey)).toThrow(/aggregator config is invalid/);
    expect(helpers).toMatch(/\$_ := set \$task "codec" \.Values\.aggregator\.codec/);
    expect(helpers).toMatch(/dict "paillierPublicKeyFile" \(include "fhirfed\.paillierPublicKeyPath" \.\)/);
  });
});

describe('fhirfed mappings pack', () => {
  it('packs the schema and a site folder into values that the chart schema accepts, byte for byte', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'fhirfed.js'), 'mappings', 'pack', '--site', 'hospital-a'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const packed = parse(r.stdout) as { mappings: { files: Record<string, string> } };
    const files = packed.mappings.files;
    expect(files['schema.yaml']).toBe(readFileSync(join(process.cwd(), 'mappings', 'schema.yaml'), 'utf8'));
    expect(files['sites/hospital-a/site.yaml']).toBe(readFileSync(join(process.cwd(), 'mappings', 'sites', 'hospital-a', 'site.yaml'), 'utf8'));
    expect(validate(deepMerge(values, packed)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('refuses to pack a site that does not exist', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'fhirfed.js'), 'mappings', 'pack', '--site', 'no-such-site'], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-site/);
  });
});
