import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { formatLocation, isFhirfedError, type IssueType } from './errors.js';

/**
 * FHIR OperationOutcome builders (like medplum's outcomes.ts). The error code travels in issue.details.coding so
 * clients can match on it; `expression`/`location` say where; diagnostics carry the hint.
 */
export const FHIRFED_ERROR_SYSTEM = 'https://fhirfed.dev/CodeSystem/error';

export function outcome(
  severity: OperationOutcomeIssue['severity'],
  code: IssueType,
  text: string,
  extra: { errorCode?: string; where?: string; hint?: string } = {},
): OperationOutcome {
  const issue: OperationOutcomeIssue = {
    severity,
    code,
    details: {
      text,
      ...(extra.errorCode ? { coding: [{ system: FHIRFED_ERROR_SYSTEM, code: extra.errorCode }] } : {}),
    },
    ...(extra.where ? { expression: [extra.where] } : {}),
    ...(extra.hint ? { diagnostics: extra.hint } : {}),
  };
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

export function allOk(text = 'All OK'): OperationOutcome {
  return outcome('information', 'informational' as IssueType, text);
}

/** The OperationOutcome for any thrown value; unknown errors get a generic text (details go to the log only). */
export function outcomeFromError(e: unknown): { status: number; body: OperationOutcome } {
  if (isFhirfedError(e)) {
    const where = formatLocation(e.where);
    const body = outcome('error', e.issueType, e.message, {
      errorCode: e.code,
      ...(where ? { where } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
    });
    for (const d of e.details) {
      const loc = formatLocation(d);
      body.issue.push({
        severity: 'error',
        code: e.issueType,
        details: { text: d.message, coding: [{ system: FHIRFED_ERROR_SYSTEM, code: e.code }] },
        ...(loc ? { expression: [loc] } : {}),
      });
    }
    return { status: e.status, body };
  }
  return {
    status: 500,
    body: outcome('fatal', 'exception', 'internal error; the gateway log has the details', { errorCode: 'FHIRFED_ERR_INTERNAL' }),
  };
}
