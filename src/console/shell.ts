/**
 * What every console (gateway and aggregator) shares: security headers with a per-response CSP nonce, the login
 * form that trades an operator token for a session cookie, the session/bearer guard, CSRF checks on POST, page
 * rendering with navigation, and an error handler that shows HTML (message, where, how to fix), never a stack.
 *
 * Operator scope: a token needs `console` or `*`. Programs may skip the cookie and send the bearer token
 * (`Authorization: Bearer ...`); browsers never attach that header on their own, so bearer POSTs need no CSRF token.
 */
import { randomBytes } from 'node:crypto';
import type { Router} from 'express';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { FhirfedError, formatLocation, isFhirfedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { clientOf, TokenBuckets } from '../api/rate-limit.js';
import type { OperatorTokens } from '../federation/auth.js';
import { errorBox, esc, page, type NavItem } from './html.js';
import type { SessionCodec} from './session.js';
import { readCookie, serializeCookie, type Session } from './session.js';

export const CONSOLE_SCOPE = 'console';

export interface ConsoleShellOptions {
  /** Without tokens nobody can log in: the login page says how to configure them. */
  readonly operatorTokens?: OperatorTokens;
  readonly codec: SessionCodec;
  /** Distinct per service: cookies are shared across ports of one host. */
  readonly cookieName: string;
  /** Shown in the header. */
  readonly who: string;
  /** Relative hrefs (resolved against the mount path). */
  readonly nav: readonly NavItem[];
  readonly logger: Logger;
  /** Largest form body (the workbench posts messages). @defaultValue 2 MiB */
  readonly bodyLimitBytes?: number;
  /**
   * Failed logins allowed per client address before it must wait, and how many more it earns per minute.
   * @defaultValue { burst: 5, perMinute: 5 }
   */
  readonly loginFailures?: { readonly burst: number; readonly perMinute: number };
}

interface Locals {
  nonce: string;
  csrf?: string;
  scopes?: readonly string[];
}

const locals = (res: Response): Locals => res.locals as unknown as Locals;
const hasScope = (scopes: readonly string[]): boolean => scopes.includes('*') || scopes.includes(CONSOLE_SCOPE);

function securityHeaders(_req: Request, res: Response, next: () => void): void {
  const nonce = randomBytes(16).toString('base64');
  locals(res).nonce = nonce;
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  // same-origin (not no-referrer): with no-referrer browsers send `Origin: null` on form posts, defeating the check.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/**
 * Refuses a POST whose Origin names another host (browsers send Origin on POST; other clients may not). Hosts, not
 * schemes, are compared: behind a TLS-terminating ingress without server.trustProxy the request looks like http.
 */
function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.host;
  } catch {
    return false;
  }
}

export class ConsoleShell {
  /** Failed logins per client: guessing tokens through the form is slowed to a few tries a minute. */
  private readonly failures: TokenBuckets;

  constructor(private readonly o: ConsoleShellOptions) {
    const f = o.loginFailures ?? { burst: 5, perMinute: 5 };
    this.failures = new TokenBuckets(f.perMinute / 60, f.burst);
  }

  /** Headers, body parser, /login, /logout and the guard; pages mounted after this are authenticated. */
  install(r: Router): void {
    r.use(securityHeaders);
    r.use(express.urlencoded({ extended: false, limit: this.o.bodyLimitBytes ?? 2 * 1024 * 1024, parameterLimit: 50 }));
    r.use((req, _res, next) => {
      if (req.method === 'POST' && !sameOrigin(req)) {
        next(new FhirfedError('FHIRFED_ERR_FORBIDDEN', 'cross-origin form posts are refused', { hint: 'open the console from its own address; behind a proxy that rewrites Host, set server.trustProxy' }));
        return;
      }
      next();
    });
    r.get('/login', (req, res) => this.loginPage(req, res, 200));
    r.post('/login', (req, res) => this.login(req, res));
    r.use(this.guard());
    r.post('/logout', (req, res) => {
      res.setHeader('Set-Cookie', serializeCookie(this.o.cookieName, '', { path: req.baseUrl || '/', secure: req.secure, maxAge: 0 }));
      res.redirect(303, `${req.baseUrl}/login`);
    });
  }

  private loginPage(req: Request, res: Response, status: number, problem?: string): void {
    const configured = this.o.operatorTokens !== undefined;
    const body = `${problem ? errorBox(problem, { hint: 'paste an operator token with the console (or *) scope' }) : ''}
${configured ? '' : errorBox('no operator tokens are configured, so nobody can log in', { hint: 'set auth.operatorTokensFile (one `token console` per line) and restart' })}
<form method="post" action="${esc(req.baseUrl)}/login">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required minlength="16" aria-describedby="token-help">
<p id="token-help" class="muted">The token stays on this server: the browser keeps only a signed session cookie (HttpOnly, SameSite=Strict).</p>
<button type="submit">Log in</button></form>`;
    res.status(status).type('html').send(page({ title: 'Log in', nonce: locals(res).nonce, who: this.o.who, body }));
  }

  private login(req: Request, res: Response): void {
    const client = clientOf(req);
    const wait = this.failures.wait(client);
    if (wait > 0) {
      // Checked before the token: while an address is throttled even the right token is not tried.
      res.setHeader('Retry-After', String(wait));
      this.o.logger.warn({ path: req.originalUrl }, 'console login throttled after repeated failures');
      this.loginPage(req, res, 429, `too many failed logins from this address; try again in ${wait} s`);
      return;
    }
    const token = (req.body as Record<string, unknown> | undefined)?.token;
    const scopes = typeof token === 'string' && token.length > 0 ? this.o.operatorTokens?.check(token.trim()) : undefined;
    if (!scopes) {
      this.failures.take(client);
      this.o.logger.info({ path: req.originalUrl }, 'console login refused');
      this.loginPage(req, res, 401, 'that token is not valid here');
      return;
    }
    if (!hasScope(scopes)) {
      this.loginPage(req, res, 403, `that token lacks the ${CONSOLE_SCOPE} scope`);
      return;
    }
    const { value } = this.o.codec.issue(scopes);
    res.setHeader('Set-Cookie', serializeCookie(this.o.cookieName, value, { path: req.baseUrl || '/', secure: req.secure, maxAge: this.o.codec.maxAgeSeconds }));
    res.redirect(303, `${req.baseUrl}/`);
  }

  private guard(): RequestHandler {
    return (req, res, next) => {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (bearer !== undefined) {
        const scopes = this.o.operatorTokens?.check(bearer);
        if (!scopes) return next(new FhirfedError('FHIRFED_ERR_UNAUTHENTICATED', 'the bearer token is not valid here', { hint: 'use an operator token' }));
        if (!hasScope(scopes)) return next(new FhirfedError('FHIRFED_ERR_FORBIDDEN', `the operator token lacks the ${CONSOLE_SCOPE} scope`, { hint: `add ${CONSOLE_SCOPE} to its scopes` }));
        locals(res).scopes = scopes;
        return next();
      }
      const v = this.o.codec.verify(readCookie(req.headers.cookie, this.o.cookieName));
      if (!v.ok) {
        if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, `${req.baseUrl}/login`);
        return next(new FhirfedError('FHIRFED_ERR_UNAUTHENTICATED', `not logged in (${v.reason})`, { hint: 'log in again at the console login page' }));
      }
      const s: Session = v.session;
      if (req.method === 'POST' && !this.o.codec.checkCsrf(s, (req.body as Record<string, unknown> | undefined)?._csrf)) {
        return next(new FhirfedError('FHIRFED_ERR_FORBIDDEN', 'the form is missing a valid CSRF token', { hint: 'reload the page and submit the form again' }));
      }
      locals(res).scopes = s.scopes;
      locals(res).csrf = this.o.codec.csrfToken(s);
      next();
    };
  }

  /** CSRF token for forms on this response ('' for bearer clients, which need none). */
  csrf(res: Response): string {
    return locals(res).csrf ?? '';
  }

  render(req: Request, res: Response, p: { title: string; body: string; current: string; script?: string; status?: number }): void {
    const base = req.baseUrl;
    const csrf = locals(res).csrf;
    const html = page({
      title: p.title,
      nonce: locals(res).nonce,
      who: this.o.who,
      nav: this.o.nav.map((n) => ({ href: `${base}${n.href}`, label: n.label })),
      current: `${base}${p.current}`,
      ...(csrf !== undefined ? { logout: { action: `${base}/logout`, csrf } } : {}),
      body: p.body,
      ...(p.script ? { script: p.script } : {}),
    });
    res.status(p.status ?? 200).type('html').send(html);
  }

  /** HTML errors for console routes: status from the error code, message, where and hint; no stack trace. */
  errorHandler(): ErrorRequestHandler {
    return (err: unknown, req, res, next) => {
      if (res.headersSent) return next(err);
      const e = err as { type?: string; limit?: number };
      const fe = isFhirfedError(err)
        ? err
        : e?.type === 'entity.too.large'
          ? new FhirfedError('FHIRFED_ERR_PAYLOAD_TOO_LARGE', `the form is larger than ${e.limit ?? '?'} bytes`, { hint: 'paste a smaller message' })
          : undefined;
      if (!fe) this.o.logger.error({ err: err instanceof Error ? err.message : String(err), path: req.path }, 'console error');
      const status = fe?.status ?? 500;
      const body = fe
        ? errorBox(fe.message, { code: fe.code, where: formatLocation(fe.where), ...(fe.hint ? { hint: fe.hint } : {}) })
        : errorBox('unexpected error; the server log has the details', { code: 'FHIRFED_ERR_INTERNAL' });
      const nonce = locals(res).nonce ?? randomBytes(16).toString('base64');
      locals(res).nonce = nonce;
      res.status(status).type('html').send(page({ title: status === 401 ? 'Not logged in' : 'Error', nonce, who: this.o.who, body: `${body}<p><a href="${esc(req.baseUrl)}/">Back to the console</a></p>` }));
    };
  }
}
