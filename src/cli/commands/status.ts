import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { parseMessage } from '../../federation/messages.js';
import { action } from '../run.js';

/** `fhirfed status`: what a running gateway reports at /status. */
export function register(program: Command): void {
  program
    .command('status')
    .description("show a gateway's status: health, data statistics, queue, privacy budget, round")
    .option('--url <url>', 'gateway base URL', 'http://127.0.0.1:8080')
    .option('--token <token>', 'operator bearer token (or FHIRFED_TOKEN)')
    .action(
      action(async (opts: { url: string; token?: string }) => {
        const token = opts.token ?? process.env.FHIRFED_TOKEN;
        if (!token) throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'no operator token', { hint: 'pass --token or set FHIRFED_TOKEN' });
        let url: URL;
        try {
          url = new URL('status', opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
        } catch {
          throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `--url is not a URL: ${opts.url}`, { hint: 'e.g. --url http://gateway:8080' });
        }
        let res: Response;
        try {
          res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
        } catch (e) {
          const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
          throw new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `cannot reach ${url.origin}: ${why}`, { hint: 'check --url and that the gateway runs' });
        }
        const body: unknown = await res.json().catch(() => undefined);
        if (!res.ok) {
          const text = (body as { issue?: { details?: { text?: string } }[] } | undefined)?.issue?.[0]?.details?.text ?? res.statusText;
          throw new FhirfedError(res.status === 401 ? 'FHIRFED_ERR_UNAUTHENTICATED' : res.status === 403 ? 'FHIRFED_ERR_FORBIDDEN' : 'FHIRFED_ERR_FEDERATION', `GET ${url.pathname} answered ${res.status}: ${text}`, {
            hint: res.status === 401 || res.status === 403 ? 'check the operator token and its `status` scope' : 'see the gateway log',
          });
        }
        const report = parseMessage(body, 'status', url.origin);
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      }),
    );
}
