import { formatError, isFhirfedError } from '../core/errors.js';

/**
 * Wraps a command action: a FhirfedError prints what/where/how-to-fix and exits with its code; anything else is a
 * bug and prints one line (set FHIRFED_DEBUG=1 for the stack). Never a raw stack trace for bad input.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.stderr.write(`${formatError(e)}\n`);
      if (!isFhirfedError(e) && process.env.FHIRFED_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
      process.exitCode = isFhirfedError(e) ? e.exitCode : 70;
    }
  };
}
