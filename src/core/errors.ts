/**
 * Every error fhirfed raises on purpose. One file, stable codes (like fastify's lib/errors.js): callers and
 * operators match on `code`, never on message text. The API's single error handler turns these into FHIR
 * OperationOutcome; the CLI prints `message`, `where` and `hint` without a stack trace.
 */

/** FHIR OperationOutcome.issue.code values we use. */
export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'invariant'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-costly'
  | 'business-rule'
  | 'not-supported'
  | 'duplicate'
  | 'throttled'
  | 'exception'
  | 'timeout'
  | 'transient';

interface ErrorSpec {
  readonly status: number;
  readonly issue: IssueType;
  readonly exitCode: number;
}

/** The catalogue: code -> HTTP status, OperationOutcome issue type and CLI exit code. */
export const ERROR_CODES = {
  FHIRFED_ERR_CONFIG_INVALID: { status: 500, issue: 'invalid', exitCode: 78 },
  FHIRFED_ERR_CONFIG_FILE: { status: 500, issue: 'invalid', exitCode: 78 },
  FHIRFED_ERR_BAD_REQUEST: { status: 400, issue: 'invalid', exitCode: 64 },
  FHIRFED_ERR_VALIDATION: { status: 422, issue: 'invalid', exitCode: 65 },
  FHIRFED_ERR_PAYLOAD_TOO_LARGE: { status: 413, issue: 'too-costly', exitCode: 65 },
  FHIRFED_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, issue: 'not-supported', exitCode: 65 },
  FHIRFED_ERR_NOT_FOUND: { status: 404, issue: 'not-found', exitCode: 66 },
  FHIRFED_ERR_UNAUTHENTICATED: { status: 401, issue: 'login', exitCode: 77 },
  FHIRFED_ERR_FORBIDDEN: { status: 403, issue: 'forbidden', exitCode: 77 },
  FHIRFED_ERR_CONFLICT: { status: 409, issue: 'conflict', exitCode: 65 },
  FHIRFED_ERR_RATE_LIMITED: { status: 429, issue: 'throttled', exitCode: 75 },
  FHIRFED_ERR_NOT_IMPLEMENTED: { status: 501, issue: 'not-supported', exitCode: 2 },
  FHIRFED_ERR_DEPENDENCY_UNAVAILABLE: { status: 503, issue: 'transient', exitCode: 69 },
  FHIRFED_ERR_TIMEOUT: { status: 504, issue: 'timeout', exitCode: 75 },
  // ingest
  FHIRFED_ERR_HL7_PARSE: { status: 400, issue: 'structure', exitCode: 65 },
  FHIRFED_ERR_HL7_UNSUPPORTED: { status: 422, issue: 'not-supported', exitCode: 65 },
  FHIRFED_ERR_FHIR_INVALID: { status: 422, issue: 'structure', exitCode: 65 },
  FHIRFED_ERR_LEDGER: { status: 503, issue: 'transient', exitCode: 74 },
  // harmonize
  FHIRFED_ERR_VIEW_INVALID: { status: 422, issue: 'invalid', exitCode: 65 },
  FHIRFED_ERR_FHIRPATH: { status: 422, issue: 'invalid', exitCode: 65 },
  FHIRFED_ERR_MAPPING_INVALID: { status: 422, issue: 'invalid', exitCode: 65 },
  FHIRFED_ERR_TRANSFORMER_UNKNOWN: { status: 422, issue: 'invalid', exitCode: 65 },
  FHIRFED_ERR_UNIT: { status: 422, issue: 'value', exitCode: 65 },
  // training / privacy / federation
  FHIRFED_ERR_TRAINING: { status: 500, issue: 'exception', exitCode: 70 },
  FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED: { status: 409, issue: 'business-rule', exitCode: 65 },
  FHIRFED_ERR_PRIVACY_PARAMS: { status: 400, issue: 'invalid', exitCode: 64 },
  FHIRFED_ERR_SECAGG: { status: 422, issue: 'security', exitCode: 65 },
  FHIRFED_ERR_FEDERATION: { status: 502, issue: 'exception', exitCode: 69 },
  FHIRFED_ERR_INTERNAL: { status: 500, issue: 'exception', exitCode: 70 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where a problem is: any subset of file, line, column, key path, FHIR/HL7 location. */
export interface ErrorLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** A key path (`training.batchSize`), a FHIRPath, or an HL7 position such as `OBX-5`. */
  readonly path?: string;
}

/** One problem among several (config validation reports all of them at once). */
export interface ErrorDetail extends ErrorLocation {
  readonly message: string;
}

export interface FhirfedErrorOptions {
  readonly where?: ErrorLocation;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly details?: readonly ErrorDetail[];
  readonly cause?: unknown;
}

export class FhirfedError extends Error {
  readonly code: ErrorCode;
  readonly where: ErrorLocation | undefined;
  readonly hint: string | undefined;
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, message: string, options: FhirfedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FhirfedError';
    this.code = code;
    this.where = options.where;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get issueType(): IssueType {
    return ERROR_CODES[this.code].issue;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }
}

export function isFhirfedError(e: unknown): e is FhirfedError {
  return e instanceof FhirfedError;
}

/** `file:line:column path` in the order a user reads it; empty when nothing is known. */
export function formatLocation(where: ErrorLocation | undefined): string {
  if (!where) return '';
  let s = where.file ?? '';
  if (where.line !== undefined) s += `${s ? ':' : 'line '}${where.line}`;
  if (where.column !== undefined) s += `:${where.column}`;
  if (where.path) s += s ? ` (${where.path})` : where.path;
  return s;
}

/** Human text for the CLI and logs: one line per problem, never a stack trace. */
export function formatError(e: unknown): string {
  if (!isFhirfedError(e)) {
    const msg = e instanceof Error ? e.message : String(e);
    return `error [FHIRFED_ERR_INTERNAL]: ${msg}`;
  }
  const loc = formatLocation(e.where);
  const lines = [`error [${e.code}]: ${loc ? `${loc}: ` : ''}${e.message}`];
  for (const d of e.details) {
    const dl = formatLocation(d);
    lines.push(`  - ${dl ? `${dl}: ` : ''}${d.message}`);
  }
  if (e.hint) lines.push(`  hint: ${e.hint}`);
  return lines.join('\n');
}

/** Convenience for a feature that later issues fill in. */
export function notImplemented(what: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_NOT_IMPLEMENTED', `${what} is not available yet in this version of fhirfed`, {
    hint: 'see CHANGELOG.md for what each release provides',
  });
}
