import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configLeaves, envNameFor, loadConfig } from '../../src/config/index.js';
import { FhirfedError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'fhirfed-config-'));
function yamlFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function loadError(fn: () => unknown): FhirfedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirfedError) return e;
    throw e;
  }
  throw new Error('expected loadConfig to throw');
}

describe('config', () => {
  it('gives every default without a file or env', () => {
    const { config } = loadConfig({ env: {} });
    expect(config.server.port).toBe(8080);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.privacy.delta).toBe(1e-5);
  });

  it('takes values from the YAML file', () => {
    const file = yamlFile('ok.yaml', 'site:\n  id: hospital-a\nserver:\n  port: 9000\ntraining:\n  hidden: [8, 4]\n');
    const { config } = loadConfig({ file, env: {} });
    expect(config.site.id).toBe('hospital-a');
    expect(config.server.port).toBe(9000);
    expect(config.training.hidden).toEqual([8, 4]);
  });

  it('lets FHIRFED_* environment win over the file, with types coerced', () => {
    const file = yamlFile('prec.yaml', 'server:\n  port: 9000\nmllp:\n  enabled: false\n');
    const { config, sources } = loadConfig({
      file,
      env: { FHIRFED_SERVER_PORT: '9100', FHIRFED_MLLP_ENABLED: 'true', FHIRFED_FHIR_RESOURCE_TYPES: 'Patient, Observation' },
    });
    expect(config.server.port).toBe(9100);
    expect(config.mllp.enabled).toBe(true);
    expect(config.fhir.resourceTypes).toEqual(['Patient', 'Observation']);
    expect(sources['server.port']).toBe('FHIRFED_SERVER_PORT');
  });

  it('reads REDIS_URL, and FHIRFED_REDIS_URL wins over it', () => {
    expect(loadConfig({ env: { REDIS_URL: 'redis://a:1' } }).config.redis.url).toBe('redis://a:1');
    expect(loadConfig({ env: { REDIS_URL: 'redis://a:1', FHIRFED_REDIS_URL: 'redis://b:2' } }).config.redis.url).toBe('redis://b:2');
  });

  it('reads the file named by FHIRFED_CONFIG', () => {
    const file = yamlFile('envfile.yaml', 'site:\n  id: from-env-file\n');
    expect(loadConfig({ env: { FHIRFED_CONFIG: file } }).config.site.id).toBe('from-env-file');
  });

  it('returns a deeply frozen object', () => {
    const { config } = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.training.hidden)).toBe(true);
  });

  it('lists every problem with key path, file line and reason', () => {
    const file = yamlFile('bad.yaml', 'server:\n  port: 99999\n  hots: x\nmllp:\n  ackMode: fancy\nprivacy:\n  delta: 2\n');
    const err = loadError(() => loadConfig({ file, env: { FHIRFED_TRAINING_EPOCHS: 'many' } }));
    expect(err.code).toBe('FHIRFED_ERR_CONFIG_INVALID');
    const byPath = new Map(err.details.map((d) => [d.path, d]));
    expect(err.details).toHaveLength(5);
    expect(byPath.get('server.port')).toMatchObject({ file, line: 2 });
    expect(byPath.get('server.port')?.message).toMatch(/65535/);
    expect(byPath.get('server')?.message).toMatch(/hots/);
    expect(byPath.get('server')?.line).toBe(3);
    expect(byPath.get('mllp.ackMode')).toMatchObject({ line: 5 });
    expect(byPath.get('mllp.ackMode')?.message).toMatch(/original/);
    expect(byPath.get('privacy.delta')).toMatchObject({ line: 7 });
    expect(byPath.get('training.epochs')?.message).toMatch(/FHIRFED_TRAINING_EPOCHS/);
  });

  it('reports YAML syntax errors with their line', () => {
    const file = yamlFile('syntax.yaml', 'server:\n  port: 1\n bad indent: [\n');
    const err = loadError(() => loadConfig({ file, env: {} }));
    expect(err.code).toBe('FHIRFED_ERR_CONFIG_FILE');
    expect(err.details[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it('reports a missing file with a hint', () => {
    const err = loadError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} }));
    expect(err.code).toBe('FHIRFED_ERR_CONFIG_FILE');
    expect(err.hint).toMatch(/--config/);
  });

  it('refuses a non-mapping document', () => {
    const err = loadError(() => loadConfig({ file: yamlFile('list.yaml', '- a\n- b\n'), env: {} }));
    expect(err.message).toMatch(/mapping/);
  });

  it('warns about unknown FHIRFED_* variables instead of ignoring them silently', () => {
    const { warnings } = loadConfig({ env: { FHIRFED_SERVR_PORT: '1' } });
    expect(warnings.join('\n')).toMatch(/FHIRFED_SERVR_PORT/);
  });

  it('derives env names from key paths', () => {
    expect(envNameFor(['mllp', 'maxMessageBytes'])).toBe('FHIRFED_MLLP_MAX_MESSAGE_BYTES');
    const names = configLeaves().map((l) => l.env);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('FHIRFED_PRIVACY_NOISE_MULTIPLIER');
  });
});
