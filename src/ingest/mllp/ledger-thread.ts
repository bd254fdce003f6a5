import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FhirfedError, type ErrorLocation } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Committer, Ledger, LedgerEntry, WriteResult } from '../ledger/index.js';

/**
 * The listener's side of the ledger writer thread (ledger-worker.ts). Entries submitted during one event-loop turn
 * travel as one request; the worker merges all requests that queued up during its previous commit into the next
 * transaction. A submit resolves only when the worker reports that transaction committed, so "AA only after the
 * message is durable" holds exactly as with the in-process GroupCommitter. If the thread dies, every waiting and
 * later submit rejects with FHIRFED_ERR_LEDGER: the sender gets AE and keeps the message.
 */

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly where?: ErrorLocation;
  readonly hint?: string;
}

export type ToWorker = { readonly type: 'write'; readonly seq: number; readonly entries: LedgerEntry[] } | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly error: WireError }
  | { readonly type: 'written'; readonly seq: number; readonly tx: number; readonly results: WriteResult[] }
  | { readonly type: 'failed'; readonly seq: number; readonly error: WireError }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'closed' };

export interface LedgerThreadOptions {
  /** Most entries per transaction. @defaultValue 2000 */
  readonly maxBatch?: number;
}

interface Waiter {
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

/** Whatever went wrong while storing, the sender must hear "not stored": FHIRFED_ERR_LEDGER (AE). */
function toError(w: WireError): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_LEDGER', w.message, { ...(w.where ? { where: w.where } : {}), ...(w.hint ? { hint: w.hint } : {}) });
}

function spawn(name: string, workerData: unknown, transferList: MessagePort[]): Worker {
  const entry = new URL(`./${name}.${fileURLToPath(import.meta.url).endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  // From TypeScript sources (tsx, vitest) the worker registers the tsx loader before importing its entry.
  return entry.pathname.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, {
        eval: true,
        workerData,
        transferList,
      })
    : new Worker(entry, { workerData, transferList });
}

function exited(w: Worker): Promise<void> {
  return new Promise((resolve) => {
    if (w.threadId === -1) resolve();
    else w.once('exit', () => resolve());
  });
}

export class LedgerThread implements Committer {
  readonly stats = { batches: 0, entries: 0 };
  private queue: LedgerEntry[] = [];
  private queueWaiters: Waiter[] = [];
  private scheduled = false;
  private seq = 0;
  private lastTx = 0;
  private readonly inFlight = new Map<number, Waiter[]>();
  private idle: (() => void)[] = [];
  private dead: FhirfedError | undefined;
  private readonly closed: Promise<void>;
  private converter: Worker | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly logger: Logger,
    ready: (e?: FhirfedError) => void,
  ) {
    let onClosed: () => void = () => undefined;
    this.closed = new Promise((r) => (onClosed = r));
    port.on('message', (m: FromWorker) => {
      if (m.type === 'ready') ready();
      else if (m.type === 'fatal') ready(toError(m.error));
      else if (m.type === 'written') this.settle(m.seq, m.results, undefined, m.tx);
      else if (m.type === 'failed') this.settle(m.seq, undefined, toError(m.error));
      else if (m.type === 'log') logger.error({ err: m.message }, 'mllp: ledger thread');
      else onClosed();
    });
    worker.on('error', (e) => this.fail(`the ledger writer thread failed: ${e.message}`));
    worker.on('exit', () => {
      onClosed();
      this.fail('the ledger writer thread stopped');
      ready(this.dead);
    });
  }

  /** Starts the thread on its own connection to `ledger`'s file (same options) and waits until it is open. */
  static async start(ledger: Ledger, logger: Logger, options: LedgerThreadOptions = {}): Promise<LedgerThread> {
    const { port1, port2 } = new MessageChannel();
    const link = new MessageChannel();
    const converter = spawn('convert-worker', { port: link.port1 }, [link.port1]);
    const worker = spawn('ledger-worker', { options: ledger.options, port: port2, converter: link.port2, maxBatch: options.maxBatch ?? 2000 }, [port2, link.port2]);
    converter.on('error', (e) => logger.error({ err: e.message }, 'mllp: conversion thread failed; messages stay stored for the next start'));
    let t!: LedgerThread;
    try {
      await new Promise<void>((resolve, reject) => {
        t = new LedgerThread(worker, port1, logger, (e) => (e ? reject(e) : resolve()));
      });
    } catch (e) {
      await converter.terminate();
      throw e;
    }
    t.converter = converter;
    return t;
  }

  submit(entry: LedgerEntry): Promise<WriteResult> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push(entry);
      this.queueWaiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the current I/O callbacks: every frame read in this turn travels in one request.
        setImmediate(() => this.send());
      }
    });
  }

  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Commits what is queued, converts what is left, closes the thread's connection. */
  async close(): Promise<void> {
    await this.drain();
    if (!this.dead) this.port.postMessage({ type: 'close' } satisfies ToWorker);
    await this.closed;
    this.port.close();
    // Both threads end on their own once their ports close; terminate() would cut a thread inside native code.
    await Promise.all([exited(this.worker), this.converter ? exited(this.converter) : undefined]);
  }

  private send(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const seq = ++this.seq;
    const entries = this.queue;
    this.inFlight.set(seq, this.queueWaiters);
    this.queue = [];
    this.queueWaiters = [];
    try {
      this.port.postMessage({ type: 'write', seq, entries } satisfies ToWorker);
    } catch (e) {
      this.settle(seq, undefined, new FhirfedError('FHIRFED_ERR_LEDGER', `cannot hand messages to the ledger thread: ${(e as Error).message}`));
    }
  }

  private settle(seq: number, results: WriteResult[] | undefined, error: FhirfedError | undefined, tx?: number): void {
    const waiters = this.inFlight.get(seq);
    if (!waiters) return;
    this.inFlight.delete(seq);
    if (results) {
      if (tx !== undefined && tx !== this.lastTx) {
        this.lastTx = tx;
        this.stats.batches++;
      }
      this.stats.entries += results.length;
      waiters.forEach((w, i) => w.resolve(results[i] as WriteResult));
    } else for (const w of waiters) w.reject(error);
    if (this.queue.length === 0 && this.inFlight.size === 0) for (const done of this.idle.splice(0)) done();
  }

  private fail(message: string): void {
    if (this.dead) return;
    this.dead = new FhirfedError('FHIRFED_ERR_LEDGER', message, { hint: 'restart the gateway; unacknowledged messages will be resent by their senders' });
    this.logger.error({ err: message }, 'mllp: ledger thread down; answering AE');
    for (const seq of [...this.inFlight.keys()]) this.settle(seq, undefined, this.dead);
    const waiting = this.queueWaiters;
    this.queue = [];
    this.queueWaiters = [];
    for (const w of waiting) w.reject(this.dead);
    for (const done of this.idle.splice(0)) done();
  }
}
