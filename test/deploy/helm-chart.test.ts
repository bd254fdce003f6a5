import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseDocument, isMap, isPair, isScalar, type YAMLMap } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';

const CHART = join(process.cwd(), 'helm', 'fhirfed');
const TEMPLATES = join(CHART, 'templates');
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as object;
const examples = readdirSync(join(CHART, 'examples')).filter((f) => f.endsWith('.yaml'));
const templateText = readdirSync(TEMPLATES)
  .map((f) => readFileSync(join(TEMPLATES, f), 'utf8'))
  .join('\n');

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
