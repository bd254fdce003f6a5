import { join } from 'node:path';
import type { Observation, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSiteResources } from '../../src/demo/data/index.js';
import { FeatureStore } from '../../src/features/store.js';
import { WIRE_VERSION } from '../../src/federation/messages.js';
import { REDIS_URL } from '../federation/fixtures.js';
import { base64Blobs, containsFloat32, containsNumberToken, distinctiveNumber, parseRequests, type CapturedRequest } from '../helpers/drills/egress.js';
import { startDrillFederation, type DrillFederation } from '../helpers/drills/federation.js';
import { startRecordingProxy, type RecordingProxy } from '../helpers/drills/proxy.js';

/**
 * The egress test. Three gateway processes talk to the aggregator only through a recording TCP proxy; after two
 * masked rounds every byte they sent is searched for every patient's id, identifiers, name, birth date, pseudonym
 * (read back from the gateway's feature store), every raw observation value and every harmonized feature value,
 * as JSON text and as float32 inside the base64 payloads. Only the federation's versioned messages may appear.
 */

const SITES = ['hospital-a', 'hospital-b', 'demo-hospital-d'];
/** A record value sent in bad requests: it must not show up in any log. */
const LEAK = 'LEAKCHECK-MRN-424242';
const ALLOWED = /^(GET|POST) \/v1\/(register|heartbeat|rounds\/current|models\/[A-Za-z0-9._-]+|updates|evaluations|secagg\/drill\/\d+(\/[a-z-]+)?)$/;

let fed: DrillFederation;
let proxy: RecordingProxy;
let requests: CapturedRequest[] = [];
let text = '';
let blobs: Buffer[] = [];
const strings = new Map<string, string>();
const numbers = new Map<number, string>();

beforeAll(async () => {
  fed = await startDrillFederation({
    sites: SITES,
    patientsPerSite: 60,
    rounds: 2,
    codec: 'masking',
    redisUrl: REDIS_URL,
    privacyMode: 'client',
    gatewayAggregatorUrl: async (port) => {
      proxy = await startRecordingProxy(port);
      return `http://127.0.0.1:${proxy.port}`;
    },
  });
  // Traffic that could leak secrets into logs if anything logged headers, bodies, query strings or form fields.
  for (const site of SITES) {
    const base = `http://127.0.0.1:${fed.gatewayPorts[site]}`;
    const secret = fed.siteSecrets[site] as string;
    await fetch(`${base}/status`, { headers: { authorization: `Bearer ${secret}` } });
    await fetch(`${base}/metrics?token=${fed.operatorToken}`);
    await fetch(`${base}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${fed.operatorToken}` }, body: `{"resourceType":"Patient","id":"${LEAK}",` });
    await fetch(`${base}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${fed.operatorToken}` }, body: JSON.stringify({ resourceType: 'Patient', id: LEAK, birthDate: 'not-a-date' }) });
    for (const token of [secret, fed.operatorToken]) {
      await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base }, body: `token=${token}` });
    }
  }
  await fetch(`${fed.aggregatorUrl}/v1/rounds/current`, { headers: { authorization: `Bearer ${fed.siteSecrets[SITES[0] as string] as string}` } });
  try {
    await fed.waitDone(150_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${SITES.map((s) => `--- ${s}\n${fed.log(s).slice(-3000)}`).join('\n')}`);
  }
  // The needles: what each site holds about its patients.
  for (const site of fed.sites) {
    for (const r of demoSiteResources(site)) {
      if (r.id) strings.set(r.id, `${site.id} ${r.resourceType}.id`);
      if (r.resourceType === 'Patient') {
        const p = r as Patient;
        for (const i of p.identifier ?? []) if (i.value) strings.set(i.value, `${site.id} identifier`);
        for (const n of p.name ?? []) for (const part of [n.family, ...(n.given ?? [])]) if (part) strings.set(part, `${site.id} name`);
        if (p.birthDate) {
          strings.set(p.birthDate, `${site.id} birthDate`);
          strings.set(p.birthDate.replace(/-/g, ''), `${site.id} birthDate (compact)`);
        }
      }
      if (r.resourceType === 'Observation') {
        const v = (r as Observation).valueQuantity?.value;
        if (typeof v === 'number') numbers.set(v, `${site.id} raw observation value`);
      }
    }
    const store = FeatureStore.open(join(fed.work, site.id, 'features.sqlite'));
    try {
      for (const row of store.all(site.id)) {
        strings.set(row.key, `${site.id} pseudonym`);
        for (const [name, v] of Object.entries(row.values)) if (typeof v === 'number') numbers.set(v, `${site.id} feature ${name}`);
      }
    } finally {
      store.close();
    }
    strings.set(fed.siteSecrets[site.id] as string, `${site.id} site secret`);
  }
  requests = proxy.sent.flatMap((conn) => parseRequests(Buffer.concat(conn)));
  text = proxy.allSent().toString('latin1');
  blobs = base64Blobs(text);
}, 240_000);

afterAll(async () => {
  await fed?.close();
  await proxy?.close();
});

describe('egress: what a gateway sends to the aggregator during two masked rounds', () => {
  it('captured real traffic: registrations, masked updates and evaluations from every site', () => {
    expect(requests.length).toBeGreaterThan(20);
    const paths = requests.map((r) => `${r.method} ${r.path}`);
    expect(paths.some((p) => p.startsWith('POST /v1/secagg/drill/1/'))).toBe(true);
    expect(paths.some((p) => p === 'POST /v1/evaluations')).toBe(true);
    for (const s of SITES) expect(text).toContain(s);
    expect(blobs.length).toBeGreaterThan(0);
    expect(strings.size).toBeGreaterThan(500);
    expect([...numbers.keys()].filter(distinctiveNumber).length).toBeGreaterThan(100);
  });

  it('only the federation endpoints, each POST a versioned wire message', () => {
    const unexpected = requests.map((r) => `${r.method} ${r.path}`).filter((p) => !ALLOWED.test(p));
    expect(unexpected).toEqual([]);
    for (const r of requests.filter((x) => x.method === 'POST')) {
      const body = JSON.parse(r.body.toString('utf8')) as { v?: unknown };
      expect(body.v, `${r.path} body is not a versioned message`).toBe(WIRE_VERSION);
    }
  });

  it('no identifier, name, birth date, pseudonym or secret, in the clear or inside a base64 payload', () => {
    const found: string[] = [];
    // Base64 text (signatures, nonces, payloads) spells arbitrary short words ("Jan"): short needles are searched in
    // the text with those runs blanked, and in their decoded bytes only from 5 bytes up (shorter ones match noise).
    const clear = text.replace(/[A-Za-z0-9+/_-]{16,}={0,2}/g, ' ');
    const decoded = blobs.map((b) => b.toString('latin1'));
    for (const [needle, what] of strings) {
      // Long needles (ids, MRNs, dates, pseudonyms, secrets) cannot arise by chance: search the raw bytes for them.
      if ((needle.length >= 8 ? text : clear).includes(needle)) found.push(`${what}: ${needle}`);
      else if (needle.length >= 5 && decoded.some((d) => d.includes(needle))) found.push(`${what} (in base64): ${needle}`);
    }
    expect(found).toEqual([]);
  });

  it('no raw observation value or feature value as a JSON number or as a float32 in a payload', () => {
    const found: string[] = [];
    for (const [n, what] of numbers) {
      if (distinctiveNumber(n) && containsNumberToken(text, n)) found.push(`${what}: ${n} (JSON)`);
      if (Math.abs(n) !== 1 && n !== 0 && blobs.some((b) => containsFloat32(b, n))) found.push(`${what}: ${n} (float32)`);
    }
    expect(found).toEqual([]);
  });

  it('no secret or record content in any process log, bad requests included', () => {
    const logs = [...SITES, 'aggregator-0'].map((name) => ({ name, text: fed.log(name) }));
    // The logs are real: each gateway logged its start and the refused requests.
    for (const l of logs.slice(0, SITES.length)) expect(l.text, l.name).toMatch(/request refused|gateway listening/);
    const needles = [fed.operatorToken, LEAK, ...Object.values(fed.siteSecrets)];
    const found = logs.flatMap((l) => needles.filter((n) => l.text.includes(n)).map((n) => `${l.name}: ${n.slice(0, 12)}...`));
    expect(found).toEqual([]);
  });

  it('the search would find a leak (the needles are searched the way they would appear)', () => {
    const [id] = strings.keys();
    const sample = [...numbers.keys()].find(distinctiveNumber) as number;
    const leaked = `{"row":{"key":"${id}","value":${JSON.stringify(sample)}}}`;
    expect(leaked.includes(id as string)).toBe(true);
    expect(containsNumberToken(leaked, sample)).toBe(true);
    const f32 = Buffer.from(Float32Array.of(0.5, 0.25, 0.125, sample, 2).buffer);
    expect(base64Blobs(`"payload":"${f32.toString('base64')}"`).some((b) => containsFloat32(b, sample))).toBe(true);
    expect(base64Blobs(`"payload":"${f32.toString('base64url')}"`).some((b) => containsFloat32(b, sample))).toBe(true);
  });
});
