import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { AggregatorClient } from '../../src/federation/client.js';
import { generateKeyPair } from '../../src/federation/signing.js';
import { bulkExport, pullRest } from '../../src/ingest/fhir/index.js';
import { Ledger } from '../../src/ingest/ledger/index.js';

/**
 * Configured URLs cannot be turned into SSRF: a FHIR server or aggregator that answers with a redirect to another
 * host:port is not followed (the target, a real loopback server, never sees a request), a `next` link to another
 * host is refused, and with fhir.allowedHosts set, a base URL outside the list is refused before any request.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ server: Server; base: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

let target: Awaited<ReturnType<typeof serve>>;
let redirector: Awaited<ReturnType<typeof serve>>;
let pager: Awaited<ReturnType<typeof serve>>;
const dir = mkdtempSync(join(tmpdir(), 'fhirfed-redirect-'));
let ledger: Ledger;

beforeAll(async () => {
  // The "internal" service an attacker would like the gateway to call (think cloud metadata on another port).
  target = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"resourceType":"Bundle","type":"searchset","entry":[]}'));
  redirector = await serve((req, res) => res.writeHead(302, { location: `${target.base}${req.url ?? '/'}` }).end());
  pager = await serve((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'application/fhir+json' })
      .end(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: `${target.base}/Patient?page=2` }], entry: [] })),
  );
  ledger = Ledger.open({ dataDir: dir });
});

afterAll(async () => {
  ledger?.close();
  for (const s of [target, redirector, pager]) await new Promise<void>((r) => s.server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('redirects to other hosts are not followed', () => {
  it('the aggregator client refuses a redirect (no retry, the target sees nothing)', async () => {
    const client = new AggregatorClient({ baseUrl: redirector.base, site: 'site-a', secretKey: generateKeyPair().secretKey, retry: { attempts: 3, baseDelayMs: 1 } });
    await expect(client.register()).rejects.toMatchObject({ code: 'FHIRFED_ERR_FORBIDDEN', message: expect.stringMatching(/redirect \(HTTP 302\).*not followed/) });
    expect(redirector.hits.length).toBe(1);
    expect(target.hits).toEqual([]);
  });

  it('FHIR REST pull refuses a redirect from the configured server', async () => {
    await expect(pullRest({ baseUrl: redirector.base, allowedHosts: [], ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_FORBIDDEN',
      message: expect.stringMatching(/redirect \(HTTP 302\)/),
    });
    expect(target.hits).toEqual([]);
  });

  it('Bulk $export refuses a redirect at kick-off', async () => {
    await expect(bulkExport({ baseUrl: redirector.base, allowedHosts: [], ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_FORBIDDEN',
      message: expect.stringMatching(/302 redirect .* not followed/),
    });
    expect(target.hits).toEqual([]);
  });

  it('a next link to another host:port is refused', async () => {
    await expect(pullRest({ baseUrl: pager.base, allowedHosts: [], ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_FORBIDDEN',
      message: expect.stringMatching(/neither the FHIR server .* nor in fhir.allowedHosts/),
    });
    expect(pager.hits.length).toBe(1);
    expect(target.hits).toEqual([]);
  });

  it('with fhir.allowedHosts set, a base URL outside the allow-list is refused before any request', async () => {
    const before = pager.hits.length;
    await expect(pullRest({ baseUrl: pager.base, allowedHosts: ['fhir.hospital.example'], ledger, logger: silentLogger, resourceTypes: ['Patient'] })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_CONFIG_INVALID',
    });
    expect(pager.hits.length).toBe(before);
  });

  it('an allow-listed host is followed (the guard is not a blanket refusal)', async () => {
    const summary = await pullRest({ baseUrl: target.base, allowedHosts: ['127.0.0.1'], ledger, logger: silentLogger, resourceTypes: ['Patient'] });
    expect(summary.pages).toBe(1);
    expect(target.hits.length).toBe(1);
  });
});
