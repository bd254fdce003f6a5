import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../core/logger.js';
import { FhirfedError, isFhirfedError } from '../core/errors.js';
import { outcomeFromError } from '../core/outcome.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** body-parser and friends throw errors with `type`/`status`; map them to our codes so clients see one shape. */
function normalise(err: unknown): unknown {
  if (isFhirfedError(err)) return err;
  const e = err as { type?: string; status?: number; limit?: number; message?: string };
  switch (e?.type) {
    case 'entity.too.large':
      return new FhirfedError('FHIRFED_ERR_PAYLOAD_TOO_LARGE', `request body is larger than the limit of ${e.limit ?? '?'} bytes`, {
        hint: 'split the upload (e.g. NDJSON in parts) or raise server.bodyLimitBytes',
      });
    case 'entity.parse.failed':
      return new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'request body is not valid JSON', {
        hint: 'send a FHIR resource or Bundle as application/fhir+json',
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new FhirfedError('FHIRFED_ERR_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported encoding', { hint: 'send UTF-8' });
    default:
      return clientError(e) ?? err;
  }
}

/**
 * Other 4xx errors from express and its router (http-errors with `expose`), e.g. a path parameter that is not valid
 * percent-encoding (`/fhir/%`): the client's mistake, so a 4xx OperationOutcome rather than a 500.
 */
function clientError(e: { status?: number; statusCode?: number; expose?: boolean; message?: string }): FhirfedError | undefined {
  const status = e?.status ?? e?.statusCode;
  // The router's "Failed to decode param" is a URIError with status 400 but no `expose`.
  if (typeof status !== 'number' || status < 400 || status > 499 || (e.expose !== true && !(e instanceof URIError))) return undefined;
  if (status === 413) return new FhirfedError('FHIRFED_ERR_PAYLOAD_TOO_LARGE', e.message ?? 'request too large');
  if (status === 415) return new FhirfedError('FHIRFED_ERR_UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported media type', { hint: 'send UTF-8 JSON' });
  return new FhirfedError('FHIRFED_ERR_BAD_REQUEST', e.message ?? 'bad request', { hint: 'check the request path (percent-encoding), headers and body' });
}

/**
 * The one place errors become HTTP: every error becomes a FHIR OperationOutcome with the status its code declares.
 * Unexpected errors are logged with their stack (no request body) and answered with a generic 500.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const e = normalise(err);
    const { status, body } = outcomeFromError(e);
    if (isFhirfedError(e)) {
      logger.info({ code: e.code, status, method: req.method, path: req.path }, 'request refused');
    } else {
      logger.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e), method: req.method, path: req.path }, 'unhandled error');
    }
    res.status(status).type(FHIR_JSON).json(body);
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(
    new FhirfedError('FHIRFED_ERR_NOT_FOUND', `no route for ${req.method} ${req.path}`, {
      hint: 'see README.md "Operations" for the endpoints the gateway serves',
    }),
  );
};
