import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs on stderr. Logs carry ids, counts, codes and durations — never record contents: the redaction list
 * below is a second line of defence for fields that might carry PHI or secrets if someone logs an object whole.
 */
export const REDACT_PATHS = [
  'resource',
  'resources',
  'row',
  'rows',
  'message',
  'raw',
  'body',
  'patient',
  'value',
  'values',
  'secret',
  'token',
  'password',
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.resource',
  '*.row',
  '*.raw',
  '*.body',
  '*.secret',
  '*.token',
  '*.password',
];

export interface LoggerSettings {
  readonly level?: string;
  readonly name?: string;
  /** Where to write; defaults to stderr so CLI stdout stays clean for data. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    name: settings.name ?? 'fhirfed',
    level: settings.level ?? process.env.FHIRFED_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(options, (settings.destination ?? process.stderr) as pino.DestinationStream);
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
