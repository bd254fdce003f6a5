import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf, login, SAMPLE_ORU, startConsoleWorld, STATUS_TOKEN, TOKEN, type ConsoleWorld } from './fixture.js';

let world: ConsoleWorld;
let gwCookie: string;

beforeAll(async () => {
  world = await startConsoleWorld();
  gwCookie = await login(world.gatewayBase);
}, 240_000);

afterAll(async () => {
  await world?.close();
});

async function get(path: string, cookie = gwCookie, base = world.gatewayBase): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

async function post(path: string, fields: Record<string, string>, opts: { cookie?: string; origin?: string } = {}): Promise<{ status: number; html: string; location: string | null }> {
  const headers: Record<string, string> = {};
  const cookie = opts.cookie ?? gwCookie;
  if (cookie) headers.cookie = cookie;
  if (opts.origin) headers.origin = opts.origin;
  const res = await fetch(`${world.gatewayBase}${path}`, { method: 'POST', redirect: 'manual', headers, body: new URLSearchParams(fields) });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function csrf(): Promise<string> {
  return csrfOf((await get('/console/workbench')).html);
}

/** Absolute URLs in attributes or CSS: anything the browser would fetch or navigate to off the origin. */
function externalReferences(html: string): string[] {
  const attrs = [...html.matchAll(/\s(?:src|href|action|formaction|srcset|poster|data|xmlns(?::\w+)?|xlink:href|background)\s*=\s*["']?\s*([^"'\s>]*)/gi)].map((m) => m[1] ?? '');
  const css = [...html.matchAll(/url\(\s*["']?([^"')]*)/gi)].map((m) => m[1] ?? '');
  const imports = [...html.matchAll(/@import\s+["']?([^"';]*)/gi)].map((m) => m[1] ?? '');
  return [...attrs, ...css, ...imports].filter((u) => /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(u.trim()));
}

describe('console authentication', () => {
  it('redirects an anonymous page load to the login form and refuses anonymous posts', async () => {
    const page = await get('/console/workbench', '');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/console/login');
    const form = await get('/console/login', '');
    expect(form.status).toBe(200);
    expect(form.html).toMatch(/<label for="token">Operator token<\/label>/);
    expect((await post('/console/workbench', { input: SAMPLE_ORU }, { cookie: '' })).status).toBe(401);
  });

  it('refuses a bad token, a token without the console scope, and a tampered cookie', async () => {
    const bad = await fetch(`${world.gatewayBase}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: 'not-the-token-at-all-123' }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toMatch(/not valid here/);
    const scoped = await fetch(`${world.gatewayBase}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: STATUS_TOKEN }) });
    expect(scoped.status).toBe(403);
    const [name, value] = gwCookie.split('=') as [string, string];
    const tampered = `${name}=${value.slice(0, 5)}${value[5] === 'A' ? 'B' : 'A'}${value.slice(6)}`;
    expect((await get('/console/training', tampered)).status).toBe(303);
  });

  it('sets an HttpOnly, SameSite=Strict session cookie scoped to /console (not Secure over plain http)', async () => {
    const res = await fetch(`${world.gatewayBase}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN }) });
    const set = res.headers.get('set-cookie') ?? '';
    expect(res.status).toBe(303);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/console/);
    expect(set).not.toMatch(/Secure/);
    expect(set).not.toContain(TOKEN);
  });

  it('accepts the operator bearer token without a cookie (for scripts)', async () => {
    const res = await fetch(`${world.gatewayBase}/console/training`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const scoped = await fetch(`${world.gatewayBase}/console/training`, { headers: { authorization: `Bearer ${STATUS_TOKEN}` } });
    expect(scoped.status).toBe(403);
  });

  it('needs the session CSRF token on every form post and refuses cross-origin posts', async () => {
    expect((await post('/console/workbench', { input: SAMPLE_ORU })).status).toBe(403);
    expect((await post('/console/workbench', { input: SAMPLE_ORU, _csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(403);
    expect((await post('/console/ingest/replay', { all: '1' })).status).toBe(403);
    const token = await csrf();
    expect((await post('/console/workbench', { input: SAMPLE_ORU, _csrf: token }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post('/console/workbench', { input: SAMPLE_ORU, _csrf: token })).status).toBe(200);
    // another session's token does not fit this session
    const other = await login(world.gatewayBase);
    expect((await post('/console/workbench', { input: SAMPLE_ORU, _csrf: token }, { cookie: other })).status).toBe(403);
  });

  it('logs out: the cookie is cleared', async () => {
    const cookie = await login(world.gatewayBase);
    const token = csrfOf((await get('/console/workbench', cookie)).html);
    const res = await fetch(`${world.gatewayBase}/console/logout`, { method: 'POST', redirect: 'manual', headers: { cookie }, body: new URLSearchParams({ _csrf: token }) });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });
});

describe('mapping workbench', () => {
  it('shows the FHIR, the feature row in schema units with provenance, and quarantined values with reasons', async () => {
    const res = await post('/console/workbench', { input: SAMPLE_ORU, _csrf: await csrf() });
    expect(res.status).toBe(200);
    const h = res.html;
    expect(h).toMatch(/Read as <strong>HL7v2<\/strong>/);
    expect(h).toMatch(/&quot;resourceType&quot;: &quot;Bundle&quot;/);
    // glucose 126 mg/dL -> 6.994 mmol/L, from the Observation, through the site's chain
    expect(h).toMatch(/<th scope="row">glucose<\/th><td><span class="value">6\.994<\/span><\/td><td>mmol\/L<\/td><td>Observation\/[0-9a-f-]+<\/td><td>labs\.value<\/td><td>concept-map@1\.0\.0 → unit-repair@1\.0\.0 → ucum@1\.0\.0 → plausibility@1\.0\.0 → aggregate@1\.0\.0<\/td>/);
    expect(h).toMatch(/<th scope="row">hba1c<\/th><td><span class="value">57\.38<\/span><\/td><td>mmol\/mol<\/td>/);
    expect(h).toMatch(/<th scope="row">systolic_bp<\/th><td><span class="value">missing<\/span>/);
    expect(h).toMatch(/<th scope="row">systolic_bp<\/th><td>implausible-value<\/td><td>900 mm\[Hg\] is outside the plausible range/);
    expect(h).toMatch(/urn:fhirfed:v2:codesystem:99LAB\|XYZ/);
    // pseudonyms only truncated
    expect(h).toMatch(/Patient [0-9a-f]{12}…/);
    expect(h).not.toMatch(/[0-9a-f]{64}/);
    // browsers submit textarea line breaks as CRLF
    const crlf = await post('/console/workbench', { input: SAMPLE_ORU.replace(/\r/g, '\r\n'), _csrf: await csrf() });
    expect(crlf.html).toMatch(/<th scope="row">glucose<\/th><td><span class="value">6\.994<\/span>/);
  });

  it('takes a FHIR Bundle too, and says clearly what is wrong with bad input', async () => {
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'p1', gender: 'male', birthDate: '1970-01-01' } }] };
    const ok = await post('/console/workbench', { input: JSON.stringify(bundle), _csrf: await csrf() });
    expect(ok.status).toBe(200);
    expect(ok.html).toMatch(/Read as <strong>FHIR<\/strong>: Patient 1/);
    expect(ok.html).toMatch(/<th scope="row">sex<\/th><td><span class="value">male<\/span>/);
    const bad = await post('/console/workbench', { input: '{"resourceType": "Patient", "id": ', _csrf: await csrf() });
    expect(bad.status).toBe(422);
    expect(bad.html).toMatch(/FHIRFED_ERR_FHIR_INVALID/);
    expect(bad.html).toMatch(/How to fix/);
    const v2 = await post('/console/workbench', { input: 'MSH|^~\\&|A|B|C|D|2024||ZZZ^Z01|1|P|2.5.1', _csrf: await csrf() });
    expect(v2.status).toBe(422);
    expect(v2.html).toMatch(/FHIRFED_ERR_HL7_UNSUPPORTED/);
    expect(v2.html).not.toMatch(/at .*\.ts:\d+/);
  });

  it('escapes HTML in user input (no script injection)', async () => {
    const evil = SAMPLE_ORU.replace('Sample^Pat', 'Evil<script>alert(1)</script>^Pat').replace('Unknown test', '<img src=x onerror=alert(2)>');
    const res = await post('/console/workbench', { input: evil, _csrf: await csrf() });
    expect(res.status).toBe(200);
    expect(res.html).not.toMatch(/<script>alert/);
    expect(res.html).not.toMatch(/<img src=x/);
    expect(res.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const json = await post('/console/workbench', { input: '{"resourceType":"<script>alert(3)</script>"}', _csrf: await csrf() });
    expect(json.html).not.toMatch(/<script>alert/);
    expect(json.html).toContain('&lt;script&gt;alert(3)');
    // the only scripts are the console's own, carrying the response's CSP nonce
    for (const h of [res.html, json.html]) for (const m of h.matchAll(/<script[^>]*>/g)) expect(m[0]).toMatch(/^<script nonce="[A-Za-z0-9+/=]+">$/);
  });

  it('runs validate on the site mapping files and the coverage dry-run over the ledger, as tables', async () => {
    const v = await post('/console/workbench/validate', { _csrf: await csrf() });
    expect(v.status).toBe(200);
    expect(v.html).toMatch(/The mapping files are valid/);
    expect(v.html).toMatch(/site demo-hospital-c: 4 views/);
    const c = await post('/console/workbench/coverage', { _csrf: await csrf() });
    expect(c.status).toBe(200);
    expect(c.html).toMatch(/<caption>Features: fill rate over (\d+) patient row\(s\) from (\d+) resource\(s\)<\/caption>/);
    const [, rows] = /fill rate over (\d+) patient/.exec(c.html) as RegExpExecArray;
    expect(Number(rows)).toBe(40);
    expect(c.html).toMatch(/<th scope="row">glucose<\/th><td><\/td><td>yes<\/td>/);
  });
});

describe('ingest page', () => {
  it('lists recent messages (paginated, 100 a page) and dead letters with reasons; replays one and all', async () => {
    const page = await get('/console/ingest');
    expect(page.status).toBe(200);
    const rows = page.html.split('id="recent-messages"')[1]?.split('</table>')[0]?.match(/<tr>/g)?.length ?? 0;
    expect(rows).toBe(101); // header + 100
    const older = /href="(\/console\/ingest\?before=\d+)"/.exec(page.html)?.[1];
    expect(older).toBeDefined();
    const next = await get(older?.replace(/&amp;/g, '&') as string);
    expect(next.status).toBe(200);
    expect(next.html).toMatch(/id="recent-messages"/);
    expect(page.html).toMatch(/<th scope="row">\d+<\/th><td>hl7v2<\/td><td>RIVERLAB\^DEMO-C<\/td><td>DEAD-1<\/td><td>FHIRFED_ERR_HL7_UNSUPPORTED<\/td><td>message type ZZZ/);
    const id = /name="id" value="(\d+)"/.exec(page.html)?.[1] as string;
    const one = await post('/console/ingest/replay', { id, _csrf: csrfOf(page.html) });
    expect(one.status).toBe(303);
    expect(one.location).toBe('/console/ingest?replayed=1-0-1');
    const after = await get(one.location as string);
    expect(after.html).toMatch(/Replayed 1 dead letter\(s\): 0 converted, 1 still dead/);
    const all = await post('/console/ingest/replay', { all: '1', _csrf: csrfOf(after.html) });
    expect(all.location).toBe('/console/ingest?replayed=1-0-1');
    expect((await post('/console/ingest/replay', { _csrf: csrfOf(after.html) })).status).toBe(400);
  });
});

describe('training and federation page', () => {
  it('shows queue state, per-round F1/AUROC plots, privacy spent vs budget, and data statistics', async () => {
    const { status, html } = await get('/console/training');
    expect(status).toBe(200);
    expect(html).toMatch(/<th scope="row">completed<\/th><td>3<\/td>/);
    expect(html).toMatch(/<svg [^>]*role="img" aria-label="F1 per head"/);
    expect(html).toMatch(/<svg [^>]*role="img" aria-label="AUROC per head"/);
    expect(html).toMatch(/<svg [^>]*aria-label="Privacy spent \(epsilon\) vs budget 30"/);
    const metricRows = html.split('id="round-metrics"')[1]?.split('</table>')[0]?.match(/<tr>/g)?.length ?? 0;
    expect(metricRows).toBe(4);
    expect(html).toMatch(/<dt>epsilon budget<\/dt><dd>30<\/dd>/);
    expect(html).toMatch(/40 feature row\(s\) in the store/);
    expect(html).toMatch(/<th scope="row">glucose<\/th><td>mmol\/L<\/td>/);
  });
});

describe('aggregator console', () => {
  it('is behind its own login, while the aggregator API keeps its guard', async () => {
    expect((await get('/console/', '', world.aggregatorBase)).status).toBe(303);
    expect((await fetch(`${world.aggregatorBase}/federation`)).status).toBe(401);
    const cookie = await login(world.aggregatorBase);
    expect(cookie.startsWith('fhirfed_aggregator_console=')).toBe(true);
    // a gateway session is no aggregator session
    expect((await get('/console/', gwCookie.replace('fhirfed_console=', 'fhirfed_aggregator_console='), world.aggregatorBase)).status).toBe(303);
    const { status, html } = await get('/console/', cookie, world.aggregatorBase);
    expect(status).toBe(200);
    expect(html).toMatch(/<th scope="row">demo-hospital-c<\/th><td>yes<\/td><td>[^<]+<\/td><td>ok<\/td>/);
    expect(html).toMatch(/<th scope="row">hospital-b<\/th>/);
    expect(html).toMatch(/<svg [^>]*aria-label="Global AUROC per head"/);
    const versions = html.split('id="versions"')[1]?.split('</table>')[0] ?? '';
    expect(versions).toMatch(/<th scope="row">v3<\/th><td>3<\/td>/);
    // v1, both sites, weighted by holdout size (40, 41): adverse_event F1 0.35, AUROC (0.6·40 + 0.59·41)/81 = 0.595;
    // drug_response F1 (0.56·40 + 0.57·41)/81 = 0.565, AUROC 0.67
    expect(versions).toMatch(/<th scope="row">v1<\/th><td>1<\/td><td>[^<]+<\/td><td>2<\/td><td>0\.35<\/td><td>0\.595<\/td><td>0\.565<\/td><td>0\.67<\/td>/);
    expect(html.split('id="history"')[1]).toMatch(/<th scope="row">3<\/th><td>closed<\/td>/);
  });
});

describe('every console page', () => {
  it('references nothing outside its own origin and sends a nonce CSP', async () => {
    const aggCookie = await login(world.aggregatorBase);
    const pages: { name: string; html: string; strict: boolean; headers?: Headers }[] = [];
    for (const p of ['/console/login', '/console/workbench', '/console/ingest', '/console/training']) {
      const r = await get(p);
      pages.push({ name: p, html: r.html, strict: true, headers: r.headers });
    }
    const token = await csrf();
    pages.push({ name: 'workbench result', html: (await post('/console/workbench', { input: SAMPLE_ORU, _csrf: token })).html, strict: false });
    pages.push({ name: 'coverage', html: (await post('/console/workbench/coverage', { _csrf: token })).html, strict: false });
    pages.push({ name: 'aggregator', html: (await get('/console/', aggCookie, world.aggregatorBase)).html, strict: false });
    for (const p of pages) {
      expect(externalReferences(p.html), p.name).toEqual([]);
      // pages that show no data from messages or config carry no absolute URL at all
      if (p.strict) expect(p.html, p.name).not.toMatch(/https?:\/\//);
      if (p.headers) expect(p.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'nonce-/);
    }
    // the result page's absolute URLs are FHIR code systems, shown as escaped text inside <pre>/<td>, never as links
    const result = pages.find((p) => p.name === 'workbench result')?.html ?? '';
    expect(result).toMatch(/http:\/\/loinc\.org|urn:fhirfed/);
  });
});

// Last in the file: it leaves the aggregator console throttled for this client address.
describe('login throttling', () => {
  it('answers 429 with Retry-After after five failed logins from one address, even for the right token', async () => {
    const attempt = (token: string) =>
      fetch(`${world.aggregatorBase}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token }) });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await attempt(`wrong-token-number-${i}-xxxxxxxx`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const throttled = await attempt('wrong-token-number-5-xxxxxxxx');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await throttled.text()).toMatch(/too many failed logins/);
    const right = await attempt(TOKEN);
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
    // The gateway console keeps its own count: one failure there earlier in this file, so it still lets the token in.
    expect((await fetch(`${world.gatewayBase}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN }) })).status).toBe(303);
  });
});
