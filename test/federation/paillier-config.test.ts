import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAggregator } from '../../src/api/routes/aggregator-server.js';
import { createEncoder } from '../../src/api/wiring/codec.js';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadAggregatorConfig } from '../../src/federation/aggregator/config.js';
import { PaillierEncoder } from '../../src/federation/paillier-client.js';
import { generatePaillierKeyFiles, loadPaillierPrivateKey, loadPaillierPublicKey } from '../../src/secagg/index.js';
import { aggregatorConfig, makeSites, tempDir } from './fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

let keys: { dir: string; pub: string; priv: string };
let otherPriv: string;
beforeAll(async () => {
  const a = tempDir('fhirfed-paillier-a-');
  const b = tempDir('fhirfed-paillier-b-');
  await generatePaillierKeyFiles(a.dir, 1024);
  await generatePaillierKeyFiles(b.dir, 1024);
  keys = { dir: a.dir, pub: join(a.dir, 'paillier.pub.json'), priv: join(a.dir, 'paillier.key.json') };
  otherPriv = join(b.dir, 'paillier.key.json');
  return () => {
    a.cleanup();
    b.cleanup();
  };
});

const site = { site: 'site-a', secretKey: new Uint8Array(32), logger: silentLogger };
const gateway = (secagg: Record<string, unknown>) => configSchema.parse({ site: { id: 'site-a' }, secagg });

describe('Paillier configuration', () => {
  it('aggregator: codec paillier without the public key file is a config error naming task.secagg.paillierPublicKeyFile', () => {
    const sites = makeSites(['site-a', 'site-b']);
    let err: unknown;
    try {
      aggregatorConfig('/tmp/x', sites, { codec: 'paillier' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'FHIRFED_ERR_CONFIG_INVALID' });
    const details = (err as { details?: { path: string; message: string }[] }).details ?? [];
    expect(details).toContainEqual({ path: 'task.secagg.paillierPublicKeyFile', message: expect.stringMatching(/fhirfed secagg paillier-keygen/) });
  });

  it('aggregator: a relative key path resolves against the config file; a missing key file refuses to start, naming the file', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const sites = makeSites(['site-a', 'site-b']);
    const file = join(tmp.dir, 'aggregator.yaml');
    const siteLines = sites.map((s) => `  - id: ${s.id}\n    publicKey: ${Buffer.from(s.keys.publicKey).toString('base64')}`).join('\n');
    writeFileSync(file, `dataDir: ./agg\npollSeconds: 0\nsites:\n${siteLines}\ntask:\n  name: diabetes\n  codec: paillier\n  model: { parameters: 4 }\n  secagg:\n    paillierPublicKeyFile: keys/paillier.pub.json\n`);
    const config = loadAggregatorConfig(file);
    expect(config.task.secagg.paillierPublicKeyFile).toBe(join(tmp.dir, 'keys', 'paillier.pub.json'));
    const missing = { ...config, server: { ...config.server, host: '127.0.0.1', port: 0 } };
    await expect(startAggregator(missing, silentLogger)).rejects.toMatchObject({ code: 'FHIRFED_ERR_CONFIG_FILE', where: { file: join(tmp.dir, 'keys', 'paillier.pub.json'), path: 'task.secagg.paillierPublicKeyFile' } });
    // The private key file is not a public key file.
    const wrong = { ...missing, task: { ...missing.task, secagg: { ...missing.task.secagg, paillierPublicKeyFile: keys.priv } } };
    await expect(startAggregator(wrong, silentLogger)).rejects.toMatchObject({ code: 'FHIRFED_ERR_CONFIG_FILE', message: expect.stringMatching(/Paillier public key file is malformed/) });
  });

  it('gateway: secagg.scheme paillier without secagg.paillierPublicKeyFile is a config error naming the key', () => {
    expect(() => loadConfig({ env: { FHIRFED_SECAGG_SCHEME: 'paillier' } })).toThrow(expect.objectContaining({
      code: 'FHIRFED_ERR_CONFIG_INVALID',
      details: [expect.objectContaining({ path: 'secagg.paillierPublicKeyFile', message: expect.stringMatching(/secagg.scheme paillier needs secagg.paillierPublicKeyFile/) })],
    }));
    const { config } = loadConfig({ env: { FHIRFED_SECAGG_SCHEME: 'paillier', FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE: keys.pub } });
    expect(config.secagg.paillierPublicKeyFile).toBe(keys.pub);
    // createEncoder refuses a config that bypassed the schema, too.
    const bypass = { ...gateway({ scheme: 'plain' }), secagg: { scheme: 'paillier', maxDropouts: 1 } } as unknown as Parameters<typeof createEncoder>[0];
    expect(() => createEncoder(bypass, site)).toThrow(expect.objectContaining({ code: 'FHIRFED_ERR_CONFIG_INVALID', where: { path: 'secagg.paillierPublicKeyFile' } }));
  });

  it('gateway: createEncoder builds a PaillierEncoder that can decrypt only with the matching private key', () => {
    const enc = createEncoder(gateway({ scheme: 'paillier', paillierPublicKeyFile: keys.pub }), site);
    expect(enc).toBeInstanceOf(PaillierEncoder);
    expect((enc as PaillierEncoder).canDecrypt).toBe(false);
    const dec = createEncoder(gateway({ scheme: 'paillier', paillierPublicKeyFile: keys.pub, paillierPrivateKeyFile: keys.priv }), site);
    expect((dec as PaillierEncoder).canDecrypt).toBe(true);
    expect(() => createEncoder(gateway({ scheme: 'paillier', paillierPublicKeyFile: keys.pub, paillierPrivateKeyFile: otherPriv }), site)).toThrow(
      expect.objectContaining({ code: 'FHIRFED_ERR_CONFIG_FILE', message: expect.stringMatching(/does not belong to the configured public key/), where: { file: otherPriv, path: 'secagg.paillierPrivateKeyFile' } }),
    );
    expect(() => createEncoder(gateway({ scheme: 'paillier', paillierPublicKeyFile: join(keys.dir, 'nope.json') }), site)).toThrow(expect.objectContaining({ code: 'FHIRFED_ERR_CONFIG_FILE' }));
  });
});

describe('fhirfed secagg paillier-keygen', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/fhirfed.js'), 'secagg', 'paillier-keygen', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FHIRFED_LOG_LEVEL: 'silent' } });

  it('writes the public key and a 0600 private key that work together, and refuses to overwrite them', () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const r = run('--out', tmp.dir, '--bits', '1024');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pubFile = join(tmp.dir, 'paillier.pub.json');
    const privFile = join(tmp.dir, 'paillier.key.json');
    expect(statSync(privFile).mode & 0o777).toBe(0o600);
    const pub = JSON.parse(readFileSync(pubFile, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(pub).sort()).toEqual(['bits', 'g', 'n', 'type', 'v']);
    expect(pub.bits).toBe(1024);
    const publicKey = loadPaillierPublicKey(pubFile, 'test');
    expect(publicKey.g).toBe(publicKey.n + 1n);
    const privateKey = loadPaillierPrivateKey(privFile, 'test', publicKey);
    expect(privateKey.decrypt(publicKey.addition(publicKey.encrypt(20n), publicKey.encrypt(22n)))).toBe(42n);

    const before = readFileSync(privFile, 'utf8');
    const again = run('--out', tmp.dir, '--bits', '1024');
    expect(again.status).toBe(65);
    expect(again.stderr).toMatch(/FHIRFED_ERR_CONFLICT.*already exists; it is not overwritten/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(privFile, 'utf8')).toBe(before);

    const bad = run('--out', tmp.dir, '--bits', 'lots');
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/--bits must be a whole number/);
  });
});
