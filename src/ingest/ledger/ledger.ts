import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Resource } from 'fhir/r4.js';
import { FhirfedError } from '../../core/errors.js';
import { toLedgerError } from './errors.js';
import { DDL, SCHEMA_VERSION, type MessageStatus, type SourceKind } from './schema.js';

/**
 * The durable ledger (SQLite, WAL). Durability argument for `synchronous = FULL` (the default): in WAL mode FULL
 * fsyncs the WAL at every commit, so a transaction that returned has survived not only a crash of this process
 * (kill -9) but also an OS crash or power loss. NORMAL would survive kill -9 too but may lose the last commits on
 * power loss — yet an AA tells the sender to delete its copy, so the gateway must not take that risk. Group commit
 * (see group-commit.ts) pays one fsync per batch of messages instead of one per message.
 */

export interface LedgerOptions {
  /** Folder of `ledger.sqlite` (storage.dataDir). */
  readonly dataDir: string;
  /** @defaultValue 'FULL' — see the durability argument above. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Open for reading only (inspection, tests). @defaultValue false */
  readonly readonly?: boolean;
  /**
   * Quota: the ledger refuses writes (FHIRFED_ERR_LEDGER, "disk full", so MLLP answers AE) beyond this many bytes,
   * keeping a shared volume from filling up. Applies to every connection opened with these options. @defaultValue none
   */
  readonly maxBytes?: number;
}

/** Why a message could not be converted: a stable code, a text, and where (file:line, segment-field, FHIRPath). */
export interface DeadReason {
  readonly code: string;
  readonly message: string;
  readonly where?: string;
}

/** One message or resource to record, already processed: its resources, or why it is dead, or neither (deferred). */
export interface LedgerEntry {
  readonly kind: SourceKind;
  /** v2: sending application^facility; FHIR: origin (server base URL, file, `http`). */
  readonly source: string;
  /** v2: MSH-10 control id; FHIR: `Type/id|version`. */
  readonly key: string;
  /** Unique across the ledger; duplicates are acknowledged but not stored twice. */
  readonly dedupeKey: string;
  /** What replay re-runs; omit for converted FHIR resources (kept in `resources`). */
  readonly payload?: string;
  readonly hash: string;
  readonly resources?: readonly Resource[];
  readonly dead?: DeadReason;
}

export type SettleOutcome = { readonly resources: readonly Resource[] } | { readonly dead: DeadReason };

export interface SettleItem {
  readonly messageId: number;
  readonly outcome: SettleOutcome;
}

export interface WriteResult {
  readonly id: number;
  readonly duplicate: boolean;
  readonly status: MessageStatus;
}

export interface DeadLetter {
  readonly messageId: number;
  readonly kind: SourceKind;
  readonly source: string;
  readonly key: string;
  readonly code: string;
  readonly message: string;
  readonly where?: string;
  readonly attempts: number;
  readonly payload: string | null;
}

export interface DeadLetterFilter {
  readonly code?: string;
  readonly kind?: SourceKind;
  readonly source?: string;
  readonly messageIds?: readonly number[];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface MessageRow {
  id: number;
  status: MessageStatus;
}

export class Ledger {
  readonly file: string;
  /** How it was opened: a writer thread opens its own connection with the same options. */
  readonly options: LedgerOptions;
  /** The connection, for read-side helpers in this folder; write only through the methods below. */
  readonly db: Database.Database;
  private readonly stmts;
  private readonly writeTx: (entries: readonly LedgerEntry[]) => WriteResult[];
  private readonly settleTx: (items: readonly SettleItem[]) => void;

  private constructor(file: string, db: Database.Database, options: LedgerOptions) {
    this.file = file;
    this.options = options;
    this.db = db;
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO messages (kind, source, key, dedupe_key, received_at, status, hash, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      ),
      existing: db.prepare('SELECT id, status FROM messages WHERE dedupe_key = ?'),
      dead: db.prepare(
        `INSERT INTO dead_letters (message_id, code, message, location, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (message_id) DO UPDATE SET code = excluded.code, message = excluded.message,
           location = excluded.location, attempts = attempts + 1, updated_at = excluded.updated_at, resolved_at = NULL`,
      ),
      resource: db.prepare(
        `INSERT INTO resources (type, id, version, last_updated, message_id, json) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, last_updated = excluded.last_updated,
           message_id = excluded.message_id, json = excluded.json
         WHERE excluded.last_updated IS NULL OR resources.last_updated IS NULL
           OR excluded.last_updated >= resources.last_updated`,
      ),
      setStatus: db.prepare('UPDATE messages SET status = ? WHERE id = ?'),
      pending: db.prepare("SELECT id AS messageId, kind, payload FROM messages WHERE status = 'received' ORDER BY id LIMIT ?"),
      pendingAfter: db.prepare("SELECT id AS messageId, kind, payload FROM messages WHERE status = 'received' AND id > ? ORDER BY id LIMIT ?"),
      resolve: db.prepare('UPDATE dead_letters SET resolved_at = ?, updated_at = ? WHERE message_id = ?'),
      getCheckpoint: db.prepare('SELECT value FROM checkpoints WHERE name = ?'),
      setCheckpoint: db.prepare(
        'INSERT INTO checkpoints (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      ),
    };
    this.writeTx = db.transaction((entries: readonly LedgerEntry[]) => entries.map((e) => this.writeOne(e)));
    this.settleTx = db.transaction((items: readonly SettleItem[]) => {
      const now = new Date().toISOString();
      for (const { messageId, outcome } of items) this.settleOne(messageId, outcome, now);
    });
  }

  /** Opens (and creates) `${dataDir}/ledger.sqlite`. Storage problems are FHIRFED_ERR_LEDGER naming the file. */
  static open(options: LedgerOptions): Ledger {
    const file = join(options.dataDir, 'ledger.sqlite');
    try {
      if (!options.readonly) mkdirSync(options.dataDir, { recursive: true });
      const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
        db.pragma('foreign_keys = ON');
        db.pragma('busy_timeout = 5000');
        db.exec(DDL);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        if (options.maxBytes !== undefined) {
          const pageSize = db.pragma('page_size', { simple: true }) as number;
          db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / pageSize))}`);
        }
      }
      return new Ledger(file, db, options);
    } catch (e) {
      const err = toLedgerError(e, file, 'opening the ledger');
      if (err instanceof FhirfedError) throw err;
      throw new FhirfedError('FHIRFED_ERR_LEDGER', `cannot open the ledger: ${(e as Error).message}`, {
        where: { file },
        hint: 'check storage.dataDir: it must be a writable folder',
        cause: e,
      });
    }
  }

  /** Records entries in one transaction (one fsync). Returns when they are durable; then, and only then, ACK. */
  write(entries: readonly LedgerEntry[]): WriteResult[] {
    if (entries.length === 0) return [];
    try {
      return this.writeTx(entries);
    } catch (e) {
      throw toLedgerError(e, this.file, `writing ${entries.length} message(s)`);
    }
  }

  private writeOne(e: LedgerEntry): WriteResult {
    const now = new Date().toISOString();
    const status: MessageStatus = e.dead ? 'dead' : e.resources ? 'converted' : 'received';
    const row = this.stmts.insert.get(e.kind, e.source, e.key, e.dedupeKey, now, status, e.hash, e.payload ?? null) as
      | { id: number }
      | undefined;
    if (!row) {
      const prior = this.stmts.existing.get(e.dedupeKey) as MessageRow;
      return { id: prior.id, duplicate: true, status: prior.status };
    }
    if (e.dead) this.stmts.dead.run(row.id, e.dead.code, e.dead.message, e.dead.where ?? null, now, now);
    else if (e.resources) this.putResources(row.id, e.resources);
    return { id: row.id, duplicate: false, status };
  }

  private putResources(messageId: number, resources: readonly Resource[]): void {
    for (const r of resources) {
      if (!r.id) continue;
      this.stmts.resource.run(r.resourceType, r.id, r.meta?.versionId ?? null, r.meta?.lastUpdated ?? null, messageId, JSON.stringify(r));
    }
  }

  /**
   * Outcomes of conversion or replay, in one transaction: converted (resources stored, any dead letter resolved) or
   * dead (reason recorded). Written with synchronous=NORMAL: the outcome can always be recomputed from the stored
   * payload, so losing it to a power cut costs a re-conversion, never data; the next FULL commit syncs it anyway.
   */
  settle(items: readonly SettleItem[]): void {
    if (items.length === 0) return;
    const strict = this.db.pragma('synchronous', { simple: true }) as number;
    try {
      this.db.pragma('synchronous = NORMAL');
      this.settleTx(items);
    } catch (e) {
      throw toLedgerError(e, this.file, `settling ${items.length} message(s)`);
    } finally {
      this.db.pragma(`synchronous = ${strict}`);
    }
  }

  private settleOne(messageId: number, outcome: SettleOutcome, now: string): void {
    if ('dead' in outcome) {
      this.stmts.dead.run(messageId, outcome.dead.code, outcome.dead.message, outcome.dead.where ?? null, now, now);
      this.stmts.setStatus.run('dead', messageId);
    } else {
      this.putResources(messageId, outcome.resources);
      this.stmts.setStatus.run('converted', messageId);
      this.stmts.resolve.run(now, now, messageId);
    }
  }

  /** Stored messages still waiting for conversion (status `received`), oldest first. */
  pending(limit: number, afterId?: number): { readonly messageId: number; readonly kind: SourceKind; readonly payload: string | null }[] {
    const rows = afterId === undefined ? this.stmts.pending.all(limit) : this.stmts.pendingAfter.all(afterId, limit);
    return rows as { messageId: number; kind: SourceKind; payload: string | null }[];
  }

  /** Marks messages as taken up by harmonization (called by whoever harmonizes). */
  markHarmonized(messageIds: readonly number[]): void {
    const tx = this.db.transaction(() => {
      for (const id of messageIds) this.stmts.setStatus.run('harmonized', id);
    });
    tx();
  }

  /** Open (unresolved) dead letters matching the filter, oldest first. */
  deadLetters(filter: DeadLetterFilter = {}): DeadLetter[] {
    const where = ['d.resolved_at IS NULL'];
    const args: unknown[] = [];
    const add = (clause: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    add('d.code = ?', filter.code);
    add('m.kind = ?', filter.kind);
    add('m.source = ?', filter.source);
    if (filter.messageIds) where.push(`m.id IN (${filter.messageIds.map((id) => Number(id)).join(',') || 'NULL'})`);
    const rows = this.db
      .prepare(
        `SELECT m.id AS messageId, m.kind, m.source, m.key, d.code, d.message, d.location, d.attempts, m.payload
         FROM dead_letters d JOIN messages m ON m.id = d.message_id WHERE ${where.join(' AND ')} ORDER BY m.id`,
      )
      .all(...args) as (Omit<DeadLetter, 'where'> & { location: string | null })[];
    return rows.map(({ location, ...r }) => (location ? { ...r, where: location } : r));
  }

  /** Message counts by status, for summaries and /readyz-style reporting. */
  counts(): Record<MessageStatus, number> {
    const out: Record<MessageStatus, number> = { received: 0, converted: 0, harmonized: 0, dead: 0 };
    for (const r of this.db.prepare('SELECT status, COUNT(*) AS n FROM messages GROUP BY status').all() as { status: MessageStatus; n: number }[]) {
      out[r.status] = r.n;
    }
    return out;
  }

  getCheckpoint(name: string): string | undefined {
    return (this.stmts.getCheckpoint.get(name) as { value: string } | undefined)?.value;
  }

  setCheckpoint(name: string, value: string): void {
    try {
      this.stmts.setCheckpoint.run(name, value, new Date().toISOString());
    } catch (e) {
      throw toLedgerError(e, this.file, `saving checkpoint ${name}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
