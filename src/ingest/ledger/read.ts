import type { Resource } from 'fhir/r4.js';
import type { Ledger } from './ledger.js';

export interface ReadResourcesOptions {
  /** Only these resource types; all when omitted. */
  readonly types?: readonly string[];
  /** Rows fetched per query. @defaultValue 500 */
  readonly pageSize?: number;
}

/**
 * The latest version of every stored FHIR resource, in (type, id) order — what harmonization reads. Keyset pages
 * rather than one open cursor: a cursor would hold the connection busy between yields and block the MLLP listener's
 * writes on the same connection.
 */
export async function* readResources(ledger: Ledger, options: ReadResourcesOptions = {}): AsyncGenerator<Resource> {
  const pageSize = options.pageSize ?? 500;
  const types = options.types ? [...options.types] : undefined;
  if (types && types.length === 0) return;
  const typeClause = types ? `AND type IN (${types.map(() => '?').join(',')})` : '';
  const page = ledger.db.prepare(
    `SELECT type, id, json FROM resources WHERE (type > ? OR (type = ? AND id > ?)) ${typeClause} ORDER BY type, id LIMIT ?`,
  );
  let lastType = '';
  let lastId = '';
  for (;;) {
    const rows = page.all(lastType, lastType, lastId, ...(types ?? []), pageSize) as { type: string; id: string; json: string }[];
    for (const r of rows) yield JSON.parse(r.json) as Resource;
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) return;
    lastType = last.type;
    lastId = last.id;
  }
}

/** How many resources of each type the ledger holds. */
export function countResources(ledger: Ledger): Record<string, number> {
  const rows = ledger.db.prepare('SELECT type, COUNT(*) AS n FROM resources GROUP BY type ORDER BY type').all() as { type: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}
