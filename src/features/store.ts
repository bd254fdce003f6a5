import Database from 'better-sqlite3';
import { FhirfedError } from '../core/errors.js';
import type { FeatureRow } from '../harmonize/harmonize.js';

/**
 * The durable local feature store: one SQLite file (WAL, so training can read while ingest writes), one row per
 * (site, pseudonymous key). Rows hold only harmonized values, quarantine reasons and provenance keys; raw resources
 * stay in the ingest layer. Upserts replace a patient's row wholesale: a row is always one harmonization run's view.
 */

export interface StoredRow extends FeatureRow {
  readonly updatedAt: string;
}

export class FeatureStore {
  readonly #db: Database.Database;
  readonly #upsert: Database.Statement;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO feature_rows (site, key, values_json, quarantined_json, provenance_json, updated_at)
       VALUES (@site, @key, @values, @quarantined, @provenance, @updatedAt)
       ON CONFLICT (site, key) DO UPDATE SET values_json = excluded.values_json, quarantined_json = excluded.quarantined_json,
         provenance_json = excluded.provenance_json, updated_at = excluded.updated_at`,
    );
  }

  static open(file: string): FeatureStore {
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `cannot open the feature store ${file}: ${(e as Error).message}`, {
        hint: 'check that the folder exists and is writable',
      });
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS feature_rows (
      site TEXT NOT NULL,
      key TEXT NOT NULL,
      values_json TEXT NOT NULL,
      quarantined_json TEXT NOT NULL,
      provenance_json TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (site, key)
    ) WITHOUT ROWID`);
    return new FeatureStore(db);
  }

  /** Inserts or replaces rows in one transaction; returns how many were written. */
  upsert(rows: readonly FeatureRow[], now: Date = new Date()): number {
    const updatedAt = now.toISOString();
    const tx = this.#db.transaction((batch: readonly FeatureRow[]) => {
      for (const r of batch) {
        this.#upsert.run({
          site: r.site,
          key: r.key,
          values: JSON.stringify(r.values),
          quarantined: JSON.stringify(r.quarantined),
          provenance: JSON.stringify(r.provenance),
          updatedAt,
        });
      }
      return batch.length;
    });
    return tx(rows);
  }

  /** Every row (optionally of one site) in key order: the training set. */
  all(site?: string): StoredRow[] {
    const stmt = site === undefined
      ? this.#db.prepare('SELECT * FROM feature_rows ORDER BY site, key')
      : this.#db.prepare('SELECT * FROM feature_rows WHERE site = ? ORDER BY key');
    const raw = (site === undefined ? stmt.all() : stmt.all(site)) as {
      site: string; key: string; values_json: string; quarantined_json: string; provenance_json: string; updated_at: string;
    }[];
    return raw.map((r) => ({
      site: r.site,
      key: r.key,
      values: JSON.parse(r.values_json) as StoredRow['values'],
      quarantined: JSON.parse(r.quarantined_json) as StoredRow['quarantined'],
      provenance: JSON.parse(r.provenance_json) as StoredRow['provenance'],
      updatedAt: r.updated_at,
    }));
  }

  /** Replaces every row of one site with `rows`, atomically: readers see the old set or the new one. */
  replaceSite(site: string, rows: readonly FeatureRow[], now: Date = new Date()): number {
    const foreign = rows.find((r) => r.site !== site);
    if (foreign) {
      throw new FhirfedError('FHIRFED_ERR_INTERNAL', `replaceSite(${site}) got a row of site ${foreign.site}`);
    }
    return this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM feature_rows WHERE site = ?').run(site);
      return this.upsert(rows, now);
    })();
  }

  count(site?: string): number {
    const row = (site === undefined
      ? this.#db.prepare('SELECT COUNT(*) AS n FROM feature_rows').get()
      : this.#db.prepare('SELECT COUNT(*) AS n FROM feature_rows WHERE site = ?').get(site)) as { n: number };
    return row.n;
  }

  deleteSite(site: string): number {
    return this.#db.prepare('DELETE FROM feature_rows WHERE site = ?').run(site).changes;
  }

  close(): void {
    this.#db.close();
  }
}
