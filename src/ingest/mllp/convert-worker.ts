/**
 * Conversion thread: turns stored v2 messages into FHIR (or a dead-letter reason) on its own core and hands the
 * outcomes back to the ledger writer thread, which stores them inside its next commit. It never touches the ledger
 * itself, so conversion cannot contend with commits for SQLite's write lock. Messages from the writer: a list of
 * stored messages to convert, or 'close' (answered with 'closed' after every earlier list was answered).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import type { SettleItem, SourceKind } from '../ledger/index.js';
import { reprocess } from '../pipeline.js';

export interface ConvertRequest {
  readonly messageId: number;
  readonly kind: SourceKind;
  readonly payload: string | null;
}

export type ToConverter = readonly ConvertRequest[] | 'close';
export type FromConverter = readonly SettleItem[] | 'closed';

const { port } = workerData as { port: MessagePort };

port.on('message', (m: ToConverter) => {
  if (m === 'close') {
    port.postMessage('closed' satisfies FromConverter);
    port.close();
    return;
  }
  const out: SettleItem[] = [];
  for (const r of m) out.push({ messageId: r.messageId, outcome: reprocess(r.kind, r.payload) });
  port.postMessage(out satisfies FromConverter);
});
