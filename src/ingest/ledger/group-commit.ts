import type { Ledger, LedgerEntry, WriteResult } from './ledger.js';

/**
 * Group commit: entries submitted during one turn of the event loop are written in one transaction (one fsync),
 * and each submitter's promise settles only after that transaction has committed. With many MLLP connections this
 * turns N fsyncs into one without weakening the rule "AA only after the message is durable".
 */

/** What the MLLP listener needs of a store: durable submit (resolves after commit), drain, batch statistics. */
export interface Committer {
  submit(entry: LedgerEntry): Promise<WriteResult>;
  /** Resolves when everything submitted so far has been committed (or failed). */
  drain(): Promise<void>;
  /** Transactions committed so far and the entries they held. */
  readonly stats: { readonly batches: number; readonly entries: number };
}

export interface GroupCommitOptions {
  /** Largest batch per transaction; more waits for the next tick. @defaultValue 1000 */
  readonly maxBatch?: number;
}

interface Pending {
  readonly entry: LedgerEntry;
  readonly resolve: (r: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

export class GroupCommitter implements Committer {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly maxBatch: number;
  private idle: (() => void)[] = [];
  /** Batches committed so far and their sizes, for metrics and the benchmark's notes. */
  readonly stats = { batches: 0, entries: 0 };

  constructor(
    private readonly ledger: Ledger,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
  }

  submit(entry: LedgerEntry): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything submitted so far has been committed (or failed). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate runs after the current I/O callbacks: every frame read in this turn joins the batch.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length > 0) {
      try {
        const results = this.ledger.write(batch.map((p) => p.entry));
        this.stats.batches++;
        this.stats.entries += batch.length;
        batch.forEach((p, i) => p.resolve(results[i] as WriteResult));
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
    if (this.queue.length > 0) this.schedule();
    else for (const done of this.idle.splice(0)) done();
  }
}
