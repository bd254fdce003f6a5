/**
 * The ingest page: recent messages with their status, open dead letters with their reasons, and replay (one or
 * all). Lists are keyset-paginated, newest first, `PAGE_SIZE` per page: a page costs one indexed range query no
 * matter how large the ledger grows. Payloads are never shown (they carry the patient's record).
 */
import type { Ledger, MessageStatus } from '../ingest/ledger/index.js';
import type { ReplaySummary } from '../ingest/pipeline.js';
import { esc, postForm, table } from './html.js';

export const PAGE_SIZE = 100;

export interface MessageRow {
  readonly id: number;
  readonly kind: string;
  readonly source: string;
  readonly key: string;
  readonly receivedAt: string;
  readonly status: MessageStatus;
}

export interface DeadLetterRow {
  readonly messageId: number;
  readonly kind: string;
  readonly source: string;
  readonly key: string;
  readonly code: string;
  readonly message: string;
  readonly where: string | null;
  readonly attempts: number;
  readonly updatedAt: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Cursor for the next (older) page, when there is one. */
  readonly next?: number;
}

/** A positive integer cursor from a query string, or undefined (first page). */
export function cursor(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}

function paged<T>(rows: T[], idOf: (t: T) => number): Page<T> {
  const items = rows.slice(0, PAGE_SIZE);
  const last = items[items.length - 1];
  return rows.length > PAGE_SIZE && last ? { items, next: idOf(last) } : { items };
}

export function recentMessages(ledger: Ledger, before?: number): Page<MessageRow> {
  const rows = ledger.db
    .prepare(
      `SELECT id, kind, source, key, received_at AS receivedAt, status FROM messages WHERE id < ? ORDER BY id DESC LIMIT ?`,
    )
    .all(before ?? Number.MAX_SAFE_INTEGER, PAGE_SIZE + 1) as MessageRow[];
  return paged(rows, (r) => r.id);
}

export function openDeadLetters(ledger: Ledger, before?: number): Page<DeadLetterRow> {
  const rows = ledger.db
    .prepare(
      `SELECT m.id AS messageId, m.kind, m.source, m.key, d.code, d.message, d.location AS "where", d.attempts, d.updated_at AS updatedAt
       FROM dead_letters d JOIN messages m ON m.id = d.message_id
       WHERE d.resolved_at IS NULL AND d.message_id < ? ORDER BY d.message_id DESC LIMIT ?`,
    )
    .all(before ?? Number.MAX_SAFE_INTEGER, PAGE_SIZE + 1) as DeadLetterRow[];
  return paged(rows, (r) => r.messageId);
}

export function openDeadLetterCount(ledger: Ledger): number {
  return (ledger.db.prepare('SELECT COUNT(*) AS n FROM dead_letters WHERE resolved_at IS NULL').get() as { n: number }).n;
}

export interface IngestView {
  readonly base: string;
  readonly csrf: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly openDead: number;
  readonly messages: Page<MessageRow>;
  readonly dead: Page<DeadLetterRow>;
  readonly query: { readonly before?: number; readonly deadBefore?: number };
  readonly replayed?: ReplaySummary;
}

function pager(base: string, param: 'before' | 'deadBefore', next: number | undefined, keep: Readonly<Record<string, number | undefined>>, label: string): string {
  const qs = (extra: Record<string, number | undefined>) => {
    const p = Object.entries({ ...keep, ...extra }).filter((e): e is [string, number] => e[1] !== undefined);
    return p.length ? `?${p.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  };
  const links = [`<a href="${esc(`${base}/ingest${qs({ [param]: undefined })}`)}">Newest ${esc(label)}</a>`];
  if (next !== undefined) links.push(`<a href="${esc(`${base}/ingest${qs({ [param]: next })}`)}">Older ${esc(label)}</a>`);
  return `<nav class="actions" aria-label="${esc(label)} pages">${links.join(' ')}</nav>`;
}

export function replayNotice(s: ReplaySummary | undefined): string {
  if (!s) return '';
  return `<p class="notice" role="status">Replayed ${s.attempted} dead letter(s): ${s.converted} converted, ${s.stillDead.length} still dead.</p>`;
}

export function ingestBody(v: IngestView): string {
  const counts = table('Messages by status', ['status', 'messages'], Object.entries(v.counts), { id: 'message-counts' });
  const messages = table(
    `Recent messages (newest first, up to ${PAGE_SIZE} per page)`,
    ['id', 'kind', 'source', 'key', 'received', 'status'],
    v.messages.items.map((m) => [m.id, m.kind, m.source, m.key, m.receivedAt, m.status]),
    { empty: 'No messages yet.', id: 'recent-messages' },
  );
  const dead = table(
    `Open dead letters (${v.openDead}; newest first, up to ${PAGE_SIZE} per page)`,
    ['message', 'kind', 'source', 'key', 'reason code', 'reason', 'where', 'attempts', 'replay'],
    v.dead.items.map((d) => [
      d.messageId,
      d.kind,
      d.source,
      d.key,
      d.code,
      d.message,
      d.where ?? '',
      d.attempts,
      { html: postForm(`${v.base}/ingest/replay`, v.csrf, `Replay ${d.messageId}`, { id: String(d.messageId) }, 'secondary') },
    ]),
    { empty: 'No open dead letters.', id: 'dead-letters' },
  );
  const replayAll = v.openDead > 0 ? `<div class="actions">${postForm(`${v.base}/ingest/replay`, v.csrf, `Replay all ${v.openDead} dead letters`, { all: '1' })}</div>` : '';
  return `${replayNotice(v.replayed)}
<p>Replay re-runs dead letters through the current parser and converter (after a fix); converted ones leave this list.</p>
<section aria-labelledby="dead-h"><h2 id="dead-h">Dead letters</h2>${replayAll}${dead}${pager(v.base, 'deadBefore', v.dead.next, { before: v.query.before }, 'dead letters')}</section>
<section aria-labelledby="messages-h"><h2 id="messages-h">Messages</h2>${counts}${messages}${pager(v.base, 'before', v.messages.next, { deadBefore: v.query.deadBefore }, 'messages')}</section>`;
}
