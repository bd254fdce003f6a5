import { FhirfedError } from '../../core/errors.js';

/** SQLite result codes that mean the ledger cannot take writes right now; everything else is a bug, rethrown. */
const STORAGE_CODES: Record<string, string> = {
  SQLITE_FULL: 'the disk holding the ledger is full',
  SQLITE_READONLY: 'the ledger is read-only',
  SQLITE_IOERR: 'an I/O error occurred on the ledger file',
  SQLITE_CANTOPEN: 'the ledger file cannot be opened',
  SQLITE_BUSY: 'the ledger is locked by another process',
  SQLITE_CORRUPT: 'the ledger file is corrupt',
  SQLITE_NOTADB: 'the ledger path is not an SQLite database',
};

function baseCode(code: string): string {
  // Extended codes such as SQLITE_IOERR_FSYNC or SQLITE_READONLY_DBMOVED share their primary code's meaning.
  const m = /^SQLITE_[A-Z]+/.exec(code);
  return m ? m[0] : code;
}

/**
 * Turns a storage failure into FHIRFED_ERR_LEDGER (which the MLLP listener answers with AE and the API with 503), so
 * the sender keeps the message and retries; never a silent loss.
 */
export function toLedgerError(e: unknown, file: string, operation: string): unknown {
  if (e instanceof FhirfedError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return e;
  const what = STORAGE_CODES[baseCode(code)];
  if (!what) return e;
  return new FhirfedError('FHIRFED_ERR_LEDGER', `${what} (${code} while ${operation})`, {
    where: { file },
    hint:
      baseCode(code) === 'SQLITE_FULL'
        ? 'free space on the storage.dataDir volume (or grow it); senders are told AE and will resend'
        : 'check that storage.dataDir is a writable, healthy volume owned by the gateway user',
    cause: e,
  });
}
