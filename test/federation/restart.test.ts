import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AggregatorClient } from '../../src/federation/client.js';
import { PlainCodec } from '../../src/federation/codec.js';
import { publicKeyBase64 } from '../../src/federation/signing.js';
import { makeSites, tempDir } from './fixtures.js';

const tmp = tempDir();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  tmp.cleanup();
});

/** Starts `fhirfed aggregator --config` and resolves with its port once it prints it. */
function startAggregatorProcess(configFile: string): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['bin/fhirfed.js', 'aggregator', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"listening":(\d+)\}/.exec(out);
      if (m) resolve({ child, base: `http://127.0.0.1:${m[1]}` });
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`aggregator exited with ${code}: ${err}`)));
  });
}

const delta = (k: number): Float32Array => Float32Array.from([k, -k, 2 * k]);

describe('aggregator restart', () => {
  it('a killed aggregator resumes the open round with the updates it already accepted', async () => {
    const sites = makeSites(['site-a', 'site-b', 'site-c']);
    const configFile = join(tmp.dir, 'aggregator.yaml');
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
        dataDir: './data',
        pollSeconds: 0,
        sites: sites.map((s) => ({ id: s.id, publicKey: publicKeyBase64(s.keys) })),
        task: { name: 'diabetes', codec: 'plain', rounds: 3, minSites: 3, deadlineSeconds: 3600, model: { parameters: 3 } },
      }),
    );
    const codec = new PlainCodec();
    const clients = (base: string) => sites.map((s) => new AggregatorClient({ baseUrl: base, site: s.id, secretKey: s.keys.secretKey, retry: { attempts: 3, baseDelayMs: 50 } }));
    const submit = (c: AggregatorClient, k: number, n: number) =>
      codec.encode({ site: c.site, task: 'diabetes', round: 1 }, delta(k)).then((payload) => c.submitUpdate({ task: 'diabetes', round: 1, modelVersion: 'v0', numSamples: n, payload }));

    const first = await startAggregatorProcess(configFile);
    const [a, b] = clients(first.base) as [AggregatorClient, AggregatorClient, AggregatorClient];
    for (const c of clients(first.base)) await c.register();
    expect(await a.currentRound()).toMatchObject({ round: 1, status: 'open' });
    expect(await submit(a, 1, 10)).toBe('accepted');
    expect(await submit(b, 2, 10)).toBe('accepted');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startAggregatorProcess(configFile);
    const [a2, , c2] = clients(second.base) as [AggregatorClient, AggregatorClient, AggregatorClient];
    expect(await a2.currentRound()).toMatchObject({ round: 1, status: 'open', modelVersion: 'v0' });
    expect(await submit(a2, 1, 10)).toBe('duplicate');
    expect(await submit(c2, 6, 20)).toBe('accepted');
    // (10·1 + 10·2 + 20·6) / 40 = 3.75
    const model = await a2.fetchModel('latest');
    expect(model.version).toBe('v1');
    expect(Array.from(model.weights)).toEqual([3.75, -3.75, 7.5]);
    expect(await a2.currentRound()).toMatchObject({ round: 2, status: 'open', modelVersion: 'v1' });

    const audit = readFileSync(join(tmp.dir, 'data', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { who: string; what: string });
    expect(audit.filter((e) => e.what === 'update').map((e) => e.who).sort()).toEqual(['site-a', 'site-b', 'site-c']);
    expect(audit.some((e) => e.what === 'close-round')).toBe(true);
    second.child.kill('SIGTERM');
    expect(await new Promise((r) => second.child.once('exit', r))).toBe(0);
  });

  it('a bad config file is a clear error, not a stack trace', async () => {
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, stringify({ sites: [{ id: 'Bad Id', publicKey: 'x' }], task: { name: 'diabetes' } }));
    const child = spawn(process.execPath, ['bin/fhirfed.js', 'aggregator', '--config', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(78);
    expect(err).toMatch(/FHIRFED_ERR_CONFIG_INVALID/);
    expect(err).toMatch(/sites\.0\.id/);
    expect(err).toMatch(/set model.initialFile or model.parameters/);
    expect(err).not.toMatch(/at .*\.ts:\d+/);
  });
});
