/**
 * Polls every gateway's GET /status on a schedule with the aggregator's own signature, validates the report and
 * keeps the last one per site (persisted, so GET /federation is not empty right after a restart). A gateway that
 * does not answer keeps its last good report, marked with the error and the time of the failed poll.
 */
import type { Logger } from '../../core/logger.js';
import { signedJson, type RetryPolicy, type Signer } from '../http.js';
import { parseMessage } from '../messages.js';
import type { AggregatorStore, PolledStatus } from './store.js';

export interface PollTarget {
  readonly site: string;
  readonly url: string;
}

export interface StatusPollerOptions {
  readonly targets: () => readonly PollTarget[];
  readonly signer: Signer;
  readonly store: AggregatorStore;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** @defaultValue 2 attempts, 5 s timeout: the next poll is the real retry. */
  readonly retry?: RetryPolicy;
}

export class StatusPoller {
  private readonly view: Record<string, PolledStatus & { lastGood?: PolledStatus['status'] }>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: StatusPollerOptions) {
    this.view = o.store.loadFederation();
  }

  start(): void {
    if (this.o.intervalMs <= 0 || this.timer) return;
    const tick = (): void => {
      this.pollOnce().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.o.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass over every target (concurrent polls; a pass already running is joined, not repeated). */
  pollOnce(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    await Promise.all(this.o.targets().map((t) => this.pollSite(t)));
    this.o.store.saveFederation(this.view);
  }

  private async pollSite(t: PollTarget): Promise<void> {
    const polledAt = new Date().toISOString();
    try {
      const u = new URL(t.url);
      const res = await signedJson({
        baseUrl: u.origin,
        path: `${u.pathname}${u.search}`,
        method: 'GET',
        signer: this.o.signer,
        retry: this.o.retry ?? { attempts: 2, timeoutMs: 5000 },
        what: `polling the status of ${t.site}`,
      });
      const status = parseMessage(res.body, 'status', `${t.site} (${t.url})`);
      if (status.site !== t.site) throw new Error(`the gateway at ${t.url} reports site ${status.site}, expected ${t.site}`);
      this.view[t.site] = { polledAt, ok: true, status };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      const prev = this.view[t.site];
      const keep = prev?.status ? { status: prev.status } : {};
      this.view[t.site] = { polledAt, ok: false, error, ...keep };
      this.o.logger.warn({ site: t.site, error }, 'status poll failed');
    }
  }

  snapshot(): Readonly<Record<string, PolledStatus>> {
    return this.view;
  }
}
