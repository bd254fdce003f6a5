import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';

/**
 * A request target express cannot route (`//x`, `*`, an absolute URL) skips every middleware and reaches express's
 * HTML 404, bypassing the OperationOutcome handler. Collapsing leading slashes and refusing non-origin forms here
 * keeps "every error is an OperationOutcome" true for any request line.
 */
export function withRoutableUrl(app: RequestListener): RequestListener & { readonly app: RequestListener } {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    if (!url.startsWith('/')) {
      res.writeHead(400, { 'content-type': 'application/fhir+json; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'invalid', details: { text: 'the request target must be a path starting with /' } }],
        }),
      );
      return;
    }
    if (url.startsWith('//')) req.url = `/${url.replace(/^\/+/, '')}`;
    app(req, res);
  };
  // The wrapped app stays reachable (the route-walk security test enumerates its routes through the server).
  return Object.assign(listener, { app });
}

export function createRoutableServer(app: RequestListener): Server {
  return createServer(withRoutableUrl(app));
}
