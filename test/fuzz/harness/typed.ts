import { FhirfedError } from '../../../src/core/errors.js';

/**
 * What "never crashes" means for a fuzz target: it returns, or it throws a FhirfedError with a stable code and a
 * message. Anything else escaping (TypeError, RangeError, a raw library error) is a bug the property reports.
 */
export class Violation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Violation';
  }
}

function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${e.stack ?? ''}`;
  return `non-Error value ${String(e)}`;
}

/** Runs `fn`; a FhirfedError comes back as a value, anything else thrown becomes a Violation. */
export function typedOrResult<T>(what: string, fn: () => T): { ok: true; value: T } | { ok: false; error: FhirfedError } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: typedError(what, e) };
  }
}

export async function typedOrResultAsync<T>(what: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: FhirfedError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: typedError(what, e) };
  }
}

/** Checks a thrown value is a well-formed FhirfedError and returns it. */
export function typedError(what: string, e: unknown): FhirfedError {
  if (e instanceof Violation) throw e;
  if (!(e instanceof FhirfedError)) throw new Violation(`${what} threw an untyped error: ${describeThrown(e)}`, { cause: e });
  if (typeof e.message !== 'string' || e.message.length === 0) throw new Violation(`${what} threw ${e.code} without a message`);
  return e;
}

export function expectThat(cond: boolean, message: string): void {
  if (!cond) throw new Violation(message);
}
