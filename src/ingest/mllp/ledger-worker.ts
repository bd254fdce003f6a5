/**
 * Writer-thread entry: the one connection that writes the ledger while the MLLP listener runs. The listener's thread
 * only reads sockets, parses and ACKs; it never waits for an fsync. Every write request queued while the previous
 * commit was in flight joins the next transaction (true group commit: the batch grows with the load), committed with
 * the ledger's own `synchronous` setting (FULL by default), and each request is answered only after that commit.
 *
 * Conversion is deferred work with lower priority: only once no write has arrived for IDLE_MS are stored messages
 * handed (a chunk at a time, the ledger itself is the queue) to the conversion thread, and its outcomes stored in
 * small synchronous=NORMAL transactions, checking for new writes between chunks. Storing FHIR resources costs far
 * more disk than storing the message, so mixing it into the ACK path would cut ACK throughput several times; under
 * sustained peak load conversion lags and catches up when the load drops (`received` rows survive any crash).
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { isFhirfedError } from '../../core/errors.js';
import { Ledger, type LedgerEntry, type LedgerOptions, type SettleItem } from '../ledger/index.js';
import type { FromConverter, ToConverter } from './convert-worker.js';
import type { FromWorker, ToWorker, WireError } from './ledger-thread.js';

const { options, port, converter, maxBatch } = workerData as {
  options: LedgerOptions;
  port: MessagePort;
  converter: MessagePort;
  maxBatch: number;
};

/** Conversion starts after this long without a write. */
const IDLE_MS = 10;
/** Messages per conversion request and per outcome transaction: small, so a new write waits little. */
const CHUNK = 16;

type Write = Extract<ToWorker, { type: 'write' }>;

const post = (m: FromWorker): void => port.postMessage(m);
const toConverter = (m: ToConverter): void => converter.postMessage(m);

function wire(e: unknown): WireError {
  if (isFhirfedError(e)) {
    return { code: e.code, message: e.message, ...(e.where ? { where: e.where } : {}), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return { code: 'FHIRFED_ERR_LEDGER', message: e instanceof Error ? e.message : String(e) };
}

let ledger: Ledger;
try {
  ledger = Ledger.open(options);
} catch (e) {
  post({ type: 'fatal', error: wire(e) });
  port.close();
  converter.close();
  process.exit(0);
}

let tx = 0;
let closing = false;
let converterClosed = false;
/** Set once the ports are closed: receiveMessageOnPort on a closed port must never run. */
let finished = false;
let lastWrite = 0;
let idleTimer: NodeJS.Timeout | undefined;
/** Highest message id handed to the converter; ids grow, so the ledger's `received` rows above it are the queue. */
let handedUpTo = 0;
let converting = 0;
/** Stored messages may be waiting for conversion (true after a commit; false once a look found none). */
let maybePending = true;
let closeSent = false;
const settles: SettleItem[] = [];

/** Commits the write requests in one transaction (several beyond maxBatch) and answers each after the commit. */
function commit(writes: readonly Write[]): void {
  let i = 0;
  while (i < writes.length) {
    const group: Write[] = [];
    const entries: LedgerEntry[] = [];
    while (i < writes.length && (group.length === 0 || entries.length + (writes[i] as Write).entries.length <= maxBatch)) {
      const w = writes[i++] as Write;
      group.push(w);
      for (const e of w.entries) entries.push(e);
    }
    try {
      const results = ledger.write(entries);
      tx++;
      let at = 0;
      for (const w of group) {
        post({ type: 'written', seq: w.seq, tx, results: results.slice(at, at + w.entries.length) });
        at += w.entries.length;
      }
    } catch (e) {
      const error = wire(e);
      for (const w of group) post({ type: 'failed', seq: w.seq, error });
    }
  }
  lastWrite = performance.now();
  maybePending = true;
}

function settleChunk(): void {
  const chunk = settles.splice(0, CHUNK);
  try {
    ledger.settle(chunk);
  } catch (e) {
    // Unsettled messages stay `received` and are converted again at the next start.
    post({ type: 'log', message: `storing conversion outcomes failed: ${wire(e).message}` });
  }
}

/** Hands the next chunk of stored messages to the converter when it has nothing queued. */
function handOut(): void {
  if (converting > 0 || closing || converterClosed || !maybePending) return;
  const next = ledger.pending(CHUNK, handedUpTo);
  if (next.length === 0) {
    maybePending = false;
    return;
  }
  handedUpTo = (next[next.length - 1] as { messageId: number }).messageId;
  converting++;
  toConverter(next);
}

function finish(): void {
  finished = true;
  if (idleTimer) clearTimeout(idleTimer);
  while (settles.length > 0) settleChunk();
  ledger.close();
  post({ type: 'closed' });
  port.close();
  converter.close();
}

function takeOutcome(m: FromConverter): void {
  if (m === 'closed') {
    converterClosed = true;
    return;
  }
  converting--;
  for (const s of m) settles.push(s);
}

/** Drains a port without blocking; false once a write is waiting (it goes first). */
function drainConverter(): void {
  for (let r = receiveMessageOnPort(converter); r; r = receiveMessageOnPort(converter)) takeOutcome(r.message as FromConverter);
}

/** Commits `first` and every write queued behind it, then does deferred work while no write waits. */
function pump(first?: ToWorker): void {
  if (finished) return;
  const writes: Write[] = [];
  let m: ToWorker | undefined = first;
  for (;;) {
    if (m?.type === 'write') writes.push(m);
    else if (m?.type === 'close') closing = true;
    const r = receiveMessageOnPort(port);
    if (r) {
      m = r.message as ToWorker;
      continue;
    }
    m = undefined;
    if (writes.length > 0) {
      commit(writes.splice(0));
      continue;
    }
    drainConverter();
    if (!closing && performance.now() - lastWrite < IDLE_MS) break;
    if (settles.length === 0) break;
    settleChunk();
  }
  if (closing) {
    // Convert everything left before closing: the converter answers 'closed' after every earlier request.
    if (converting === 0 && settles.length === 0 && !converterClosed && !closeSent) {
      const rest = ledger.pending(1_000_000, handedUpTo);
      if (rest.length > 0) {
        handedUpTo = (rest[rest.length - 1] as { messageId: number }).messageId;
        converting++;
        toConverter(rest);
      } else {
        closeSent = true;
        toConverter('close');
      }
    }
    if (converterClosed) finish();
    return;
  }
  if (performance.now() - lastWrite >= IDLE_MS) handOut();
  if (!idleTimer && (settles.length > 0 || (converting === 0 && maybePending))) {
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      pump();
    }, IDLE_MS);
  }
}

port.on('message', (m: ToWorker) => pump(m));
converter.on('message', (m: FromConverter) => {
  takeOutcome(m);
  pump();
});
// A converter that died answers nothing more: what it did not convert stays `received` for the next start.
converter.on('close', () => {
  converterClosed = true;
  pump();
});

post({ type: 'ready' });
// Messages a crash left unconverted are picked up like new ones, once the writer is idle.
pump();
