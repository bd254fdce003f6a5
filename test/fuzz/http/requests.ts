/**
 * Request generators for every HTTP endpoint of the gateway and the aggregator: the right method and path with
 * plausible bodies (FHIR resources, wire messages, secure-aggregation envelopes) edited field by field, next to
 * wrong methods, odd paths, odd content types, broken JSON, oversized bodies and every kind of authentication
 * (none, operator token, valid and invalid site signatures). Requests are plain JSON so a failing one can be stored
 * and replayed.
 */
import fc from 'fast-check';

export type Server = 'gateway' | 'plain' | 'masking';
export type Auth = 'none' | 'operator' | 'bearer-garbage' | 'signed' | 'signed-unknown-site' | 'signed-wrong-key' | 'signed-stale' | 'signed-bad-nonce' | 'signed-tampered' | 'partial';
export type Body = { readonly json: unknown } | { readonly text: string } | { readonly base64: string } | { readonly repeat: string; readonly times: number };

export interface RequestSpec {
  readonly server: Server;
  readonly method: string;
  /** Path and query exactly as sent. */
  readonly path: string;
  readonly contentType?: string;
  readonly auth: Auth;
  /** Which test site signs (index into the sites list). */
  readonly signer: number;
  readonly body?: Body;
  /** Which endpoint the generator aimed at (for the per-endpoint counts). */
  readonly endpoint: string;
}

/** `$SITE` in a body is replaced by the signer's id when the request is sent. */
export const SITE = '$SITE';

const json = fc.jsonValue({ maxDepth: 3 });
const siteId = fc.oneof({ weight: 6, arbitrary: fc.constant(SITE) }, { weight: 1, arbitrary: fc.constantFrom('site-b', 'other', 'BAD ID', '', 'a'.repeat(70)) });
const task = fc.oneof({ weight: 6, arbitrary: fc.constant('diabetes') }, { weight: 1, arbitrary: fc.constantFrom('other', 'x'.repeat(70), '../x', '%2e%2e', 'dia betes', '') });
const round = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1e12, 0.5, '1', null) });
const b64 = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64'));
const isoNow = fc.constantFrom(new Date().toISOString(), '2020-01-01T00:00:00Z', 'yesterday', '2020-13-45T99:00:00Z');

/** A template object with some fields removed, replaced by any JSON, or added. */
function edited(template: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  const edit = fc.record({ k: fc.nat(20), kind: fc.constantFrom('drop', 'set', 'add'), value: json });
  return fc.tuple(template, fc.array(edit, { maxLength: 3 })).map(([t, edits]) => {
    const o: Record<string, unknown> = { ...t };
    for (const e of edits) {
      const keys = Object.keys(o);
      const key = e.kind === 'add' || keys.length === 0 ? `extra${e.k}` : (keys[e.k % keys.length] as string);
      if (e.kind === 'drop') delete o[key];
      else o[key] = e.value;
    }
    return o;
  });
}

const fhirResource = fc.oneof(
  fc.record({
    resourceType: fc.constantFrom('Patient', 'Observation', 'Condition', 'Encounter', 'patient', 'NotAType', ''),
    id: fc.oneof(fc.constantFrom('p1', 'o-2', 'bad id!', '', 'x'.repeat(70)), fc.string({ maxLength: 8 })),
    meta: fc.constantFrom({ versionId: '1' }, { lastUpdated: '2020-01-01T00:00:00Z' }, 'meta', null),
    subject: fc.constantFrom({ reference: 'Patient/p1' }, { reference: 7 }, 'Patient/p1'),
    status: fc.constantFrom('final', 'amended', 3),
    code: fc.constantFrom({}, { coding: [{ system: 'http://loinc.org', code: '4548-4' }] }, []),
    birthDate: fc.constantFrom('1970-01-01', '1970-13-01', 19700101),
  }, { requiredKeys: ['resourceType'] }),
  json,
);
const bundle = fc.record({
  resourceType: fc.constant('Bundle'),
  type: fc.constantFrom('transaction', 'batch', 'collection', 'searchset', 'bogus'),
  entry: fc.oneof(fc.array(fc.oneof(fhirResource.map((resource) => ({ resource })), json), { maxLength: 5 }), json),
});
const fhirBody = fc.oneof({ weight: 3, arbitrary: edited(fhirResource as fc.Arbitrary<Record<string, unknown>>) }, { weight: 2, arbitrary: edited(bundle) });

const register = fc.record({ v: fc.constant(1), type: fc.constant('register'), site: siteId, statusUrl: fc.constantFrom('http://127.0.0.1:9/status', 'ftp://x', 'not a url'), software: fc.string({ maxLength: 70 }) }, { requiredKeys: ['v', 'type', 'site'] });
const heartbeat = fc.record({ v: fc.constant(1), type: fc.constant('heartbeat'), site: siteId, at: isoNow, modelVersion: fc.constantFrom('v1', 'latest', ''), busy: fc.boolean() }, { requiredKeys: ['v', 'type', 'site', 'at'] });
const payload = fc.oneof(
  fc.record({ scheme: fc.constant('plain'), length: fc.constantFrom(4, 5, 0, -1, 1e9), data: b64 }),
  fc.record({ scheme: fc.constantFrom('masking', 'paillier', 'none'), message: json }),
);
const update = fc.record({ v: fc.constant(1), type: fc.constant('update'), site: siteId, task, round, modelVersion: fc.constantFrom('v0', 'v1', 'initial', ''), numSamples: fc.constantFrom(1, 100, 0, -5, 1.5), payload });
const evaluation = fc.record({
  v: fc.constant(1), type: fc.constant('evaluation'), site: siteId, task, round, modelVersion: fc.constantFrom('v0', 'v1', ''),
  heads: fc.oneof(fc.constant({ y: { f1: 0.5, auroc: 0.7, n: 10 } }), fc.dictionary(fc.string({ maxLength: 5 }), json, { maxKeys: 2 })),
});
const addSite = fc.record({ id: fc.constantFrom('site-z', 'site-a', 'BAD'), publicKey: fc.oneof(b64, fc.constant('AAAA')), statusUrl: fc.constantFrom('http://127.0.0.1:9/status', 'file:///etc/passwd', 'javascript:x') }, { requiredKeys: ['id', 'publicKey'] });
const secagg = (step: string) => fc.record({ v: fc.constant(1), type: fc.constant('secagg'), site: siteId, task, round, step: fc.constantFrom(step, 'advertise', 'bogus'), message: json });

const STEPS = ['advertise', 'shares', 'masked', 'unmask'];
const pathPart = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('..', '%2e%2e', '%00', '%zz', '%', 'a%2Fb', '~', '.', 'ü', 'x'.repeat(300)) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });
const queryPart = fc.constantFrom('', '', '', '?a=1', '?_format=json', '?a[b]=1&a[c]=2', '?a=%zz', `?${'a=1&'.repeat(200)}`, '?__proto__[x]=1');

interface Endpoint {
  readonly name: string;
  readonly servers: readonly Server[];
  readonly method: string;
  readonly path: fc.Arbitrary<string>;
  readonly body?: fc.Arbitrary<unknown>;
}

const AGG: readonly Server[] = ['plain', 'masking'];
const ALL: readonly Server[] = ['gateway', 'plain', 'masking'];
const p = (s: string): fc.Arbitrary<string> => fc.constant(s);

const ENDPOINTS: readonly Endpoint[] = [
  { name: 'GET /healthz', servers: ALL, method: 'GET', path: p('/healthz') },
  { name: 'GET /readyz', servers: ALL, method: 'GET', path: p('/readyz') },
  { name: 'GET /metrics', servers: ALL, method: 'GET', path: p('/metrics') },
  { name: 'POST /fhir', servers: ['gateway'], method: 'POST', path: p('/fhir'), body: fhirBody },
  { name: 'POST /fhir/:type', servers: ['gateway'], method: 'POST', path: fc.oneof(fc.constantFrom('Patient', 'Observation', 'Bundle'), pathPart).map((t) => `/fhir/${t}`), body: fhirBody },
  { name: 'GET /status', servers: ['gateway'], method: 'GET', path: p('/status') },
  { name: 'POST /v1/register', servers: AGG, method: 'POST', path: p('/v1/register'), body: edited(register) },
  { name: 'POST /v1/heartbeat', servers: AGG, method: 'POST', path: p('/v1/heartbeat'), body: edited(heartbeat) },
  { name: 'GET /v1/rounds/current', servers: AGG, method: 'GET', path: p('/v1/rounds/current') },
  { name: 'GET /v1/models/:version', servers: AGG, method: 'GET', path: fc.oneof(fc.constantFrom('latest', 'best', 'v0', 'v1', '0'), pathPart).map((v) => `/v1/models/${v}`) },
  { name: 'POST /v1/updates', servers: AGG, method: 'POST', path: p('/v1/updates'), body: edited(update) },
  { name: 'POST /v1/evaluations', servers: AGG, method: 'POST', path: p('/v1/evaluations'), body: edited(evaluation) },
  { name: 'GET /federation', servers: AGG, method: 'GET', path: p('/federation') },
  { name: 'POST /v1/admin/sites', servers: AGG, method: 'POST', path: p('/v1/admin/sites'), body: edited(addSite) },
  {
    name: 'GET /v1/secagg/:task/:round', servers: AGG, method: 'GET',
    path: fc.tuple(fc.oneof(fc.constant('diabetes'), pathPart), fc.oneof(fc.constantFrom('0', '1', '2'), pathPart)).map(([t, r]) => `/v1/secagg/${t}/${r}`),
  },
  ...['POST', 'GET'].map((method): Endpoint => ({
    name: `${method} /v1/secagg/:task/:round/:step`, servers: AGG, method,
    path: fc.tuple(fc.oneof(fc.constant('diabetes'), pathPart), fc.oneof(fc.constantFrom('0', '1'), pathPart), fc.oneof(fc.constantFrom(...STEPS), pathPart)).map(([t, r, s]) => `/v1/secagg/${t}/${r}/${s}`),
    ...(method === 'POST' ? { body: fc.constantFrom(...STEPS).chain((s) => edited(secagg(s))) } : {}),
  })),
  { name: 'random path', servers: ALL, method: 'GET', path: fc.array(pathPart, { minLength: 1, maxLength: 4 }).map((a) => `/${a.join('/')}`) },
];

const CONTENT_TYPES = ['application/json', 'application/fhir+json', 'application/fhir+json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '', 'application/*+json', 'garbage/;;;'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const AUTHS: readonly Auth[] = ['none', 'operator', 'bearer-garbage', 'signed-unknown-site', 'signed-wrong-key', 'signed-stale', 'signed-bad-nonce', 'signed-tampered', 'partial'];

/** Bodies that are not what the endpoint wants: broken JSON, other encodings, too large. */
const oddBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constantFrom('{"resourceType": ', '{}', '[]', 'null', '"x"', '1', '{"a":1}{"b":2}', '\uFEFF{}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}').map((text) => ({ text })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ base64: Buffer.from(b).toString('base64') })),
  fc.constantFrom('[', '{"a":', '0').map((repeat) => ({ repeat, times: 30_000 })),
  fc.integer({ min: 50, max: 5000 }).map((depth) => ({ text: `${'['.repeat(depth)}${']'.repeat(depth)}` })),
);

function forEndpoint(e: Endpoint, servers: readonly Server[]): fc.Arbitrary<RequestSpec> {
  const bodyArb: fc.Arbitrary<Body | undefined> = e.body
    ? fc.oneof({ weight: 6, arbitrary: e.body.map((j): Body => ({ json: j })) }, { weight: 1, arbitrary: oddBody })
    : fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: oddBody });
  return fc.record({
    server: fc.constantFrom(...e.servers.filter((s) => servers.includes(s))),
    method: fc.oneof({ weight: 9, arbitrary: fc.constant(e.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
    path: fc.tuple(e.path, queryPart).map(([a, q]) => a + q),
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constant(e.method === 'POST' ? 'application/json' : undefined) }, { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
    // Half correctly signed, so the handlers behind authentication are reached (each costs the server an
    // ed25519 verification, the bulk of its time).
    auth: fc.oneof({ weight: 1, arbitrary: fc.constant('signed' as Auth) }, { weight: 1, arbitrary: fc.constantFrom(...AUTHS) }),
    signer: fc.nat(1),
    body: bodyArb,
    endpoint: fc.constant(e.name),
  }) as fc.Arbitrary<RequestSpec>;
}

export function requestArb(servers: readonly Server[]): fc.Arbitrary<RequestSpec> {
  const eps = ENDPOINTS.filter((e) => e.servers.some((s) => servers.includes(s)));
  return fc.oneof(...eps.map((e) => forEndpoint(e, servers)));
}
