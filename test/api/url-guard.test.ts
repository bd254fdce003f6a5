import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { createRoutableServer } from '../../src/api/url-guard.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/logger.js';

/** Sends a raw request line (fetch normalises URLs, so it cannot send `//x` or `*`). */
function raw(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let buf = '';
    s.on('data', (d: Buffer) => (buf += d.toString()));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
}

describe('request targets express cannot route', () => {
  it('answer with an OperationOutcome, not an HTML page', async () => {
    const { config } = loadConfig({ env: {} });
    const server = createRoutableServer(createApp({ config, logger: silentLogger })).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const target of ['//x', '//healthz/..', '*', 'http://evil.example/healthz']) {
        const res = await raw(port, target);
        expect(res, target).toMatch(/application\/fhir\+json/);
        expect(res, target).toMatch(/"resourceType":"OperationOutcome"/);
        expect(res, target).not.toMatch(/<html|<pre>/i);
      }
      expect(await raw(port, '//healthz')).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      server.close();
    }
  });
});
