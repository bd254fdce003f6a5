/**
 * Per-site privacy budget: a ledger of every mechanism run this site has released (persisted as JSON, written
 * atomically), and the refusal of a job that would take the site past its (epsilon, delta) budget.
 *
 * The ledger stores events (q, sigma, steps), not epsilons: RDP composes additively, epsilons do not, so the spend
 * is recomputed from all events with the RDP accountant (tight conversion) at the budget's delta.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { FhirfedError } from '../core/errors.js';
import { computeRdp, epsilonFromRdp, RdpAccountant, validateEvent, type EpsilonOptions, type SampledGaussianEvent } from './rdp.js';

/** A site's total budget, from config (privacy.epsilon, privacy.delta). */
export interface PrivacyBudget {
  readonly epsilon: number;
  readonly delta: number;
}

const eventSchema = z.object({
  sampleRate: z.number().min(0).max(1),
  noiseMultiplier: z.number().min(0),
  steps: z.number().int().min(0),
});

const entrySchema = z.object({
  round: z.string().min(1),
  recordedAt: z.string(),
  events: z.array(eventSchema),
  epsilonAfter: z.number().min(0).nullable(),
});

const fileSchema = z.object({
  version: z.literal(1),
  budget: z.object({ epsilon: z.number().positive(), delta: z.number().gt(0).lt(1) }),
  entries: z.array(entrySchema),
});

export type LedgerEntry = z.infer<typeof entrySchema>;
type LedgerFile = z.infer<typeof fileSchema>;

/** What `/status` shows about privacy. */
export interface BudgetStatus {
  readonly epsilonBudget: number;
  readonly delta: number;
  readonly epsilonSpent: number;
  readonly epsilonRemaining: number;
  readonly rounds: number;
  readonly lastRound: string | null;
}

function checkBudget(budget: PrivacyBudget): void {
  if (!(budget.epsilon > 0) || !Number.isFinite(budget.epsilon) || !(budget.delta > 0 && budget.delta < 1)) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `privacy budget must have epsilon > 0 and 0 < delta < 1 (got epsilon=${budget.epsilon}, delta=${budget.delta})`, {
      where: { path: 'privacy.epsilon' },
      hint: 'set privacy.epsilon (e.g. 8) and privacy.delta (e.g. 1e-5) in the site config',
    });
  }
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(4) : 'infinity');

export class BudgetLedger {
  private data: LedgerFile;
  /** Serialises writes from this process so two records never interleave their rename. */
  private writing: Promise<void> = Promise.resolve();
  /** Running RDP total of all recorded events, so a check costs one new event, not the whole history. */
  private accountant: RdpAccountant;

  private constructor(
    readonly path: string,
    readonly budget: PrivacyBudget,
    data: LedgerFile,
    private readonly accounting: EpsilonOptions,
  ) {
    this.data = data;
    this.accountant = this.accountantFor(data.entries.flatMap((e) => e.events));
  }

  private accountantFor(events: readonly SampledGaussianEvent[]): RdpAccountant {
    const acc = this.accounting.orders ? new RdpAccountant(this.accounting.orders) : new RdpAccountant();
    for (const e of events) acc.compose(e);
    return acc;
  }

  /** Loads the ledger at `path`, or starts an empty one (written on the first record). */
  static async open(path: string, budget: PrivacyBudget, accounting: EpsilonOptions = {}): Promise<BudgetLedger> {
    checkBudget(budget);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FhirfedError('FHIRFED_ERR_LEDGER', `cannot read the privacy ledger: ${(e as Error).message}`, { where: { file: path } });
      }
    }
    if (text === undefined) return new BudgetLedger(path, budget, { version: 1, budget: { ...budget }, entries: [] }, accounting);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the privacy ledger is not valid JSON: ${(e as Error).message}`, {
        where: { file: path },
        hint: 'restore it from backup; deleting it would forget privacy already spent',
      });
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the privacy ledger is malformed: ${issue?.message ?? 'invalid'}`, {
        where: { file: path, path: issue?.path.join('.') ?? '' },
        hint: 'restore it from backup; deleting it would forget privacy already spent',
      });
    }
    // The budget is policy and comes from config; the file's copy is informational and updated on the next write.
    return new BudgetLedger(path, budget, parsed.data, accounting);
  }

  entries(): readonly LedgerEntry[] {
    return this.data.entries;
  }

  /** Epsilon spent so far at the budget's delta. */
  spent(): number {
    return this.accountant.epsilon(this.budget.delta, this.accounting.conversion).epsilon;
  }

  /** Epsilon the site would be at after also running `planned`. */
  project(planned: readonly SampledGaussianEvent[]): number {
    planned.forEach(validateEvent);
    const total = [...this.accountant.rdp()];
    for (const e of planned) computeRdp(e, this.accountant.orders).forEach((r, k) => (total[k] = (total[k] ?? 0) + r));
    return epsilonFromRdp(this.accountant.orders, total, this.budget.delta, this.accounting.conversion).epsilon;
  }

  /** Throws FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED, with the numbers, if `planned` would exceed the budget. */
  assertCanSpend(...planned: SampledGaussianEvent[]): void {
    const after = this.project(planned);
    if (after <= this.budget.epsilon) return;
    const spent = this.spent();
    const steps = planned.reduce((s, e) => s + e.steps, 0);
    throw new FhirfedError(
      'FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED',
      `privacy budget exceeded: this job (${steps} step(s)) would bring epsilon to ${fmt(after)}, over the site budget of ` +
        `${fmt(this.budget.epsilon)} at delta=${this.budget.delta}; spent so far: ${fmt(spent)} over ${this.data.entries.length} round(s)`,
      {
        where: { file: this.path, path: 'privacy.epsilon' },
        hint: 'raise the noise multiplier, lower the sample rate or the number of steps/rounds, or (only if your governance allows) raise privacy.epsilon',
      },
    );
  }

  /** Checks the budget, then appends the round's events and persists the ledger atomically. */
  async record(round: string, events: readonly SampledGaussianEvent[]): Promise<LedgerEntry> {
    if (this.data.entries.some((e) => e.round === round)) {
      throw new FhirfedError('FHIRFED_ERR_CONFLICT', `round ${round} is already recorded in the privacy ledger`, {
        where: { file: this.path },
        hint: 'each round is charged once; use a new round id',
      });
    }
    this.assertCanSpend(...events);
    const entry: LedgerEntry = {
      round,
      recordedAt: new Date().toISOString(),
      events: events.map((e) => ({ sampleRate: e.sampleRate, noiseMultiplier: e.noiseMultiplier, steps: e.steps })),
      epsilonAfter: null,
    };
    const next: LedgerFile = { version: 1, budget: { ...this.budget }, entries: [...this.data.entries, entry] };
    const accountant = this.accountantFor(next.entries.flatMap((e) => e.events));
    const after = accountant.epsilon(this.budget.delta, this.accounting.conversion).epsilon;
    const stored = { ...entry, epsilonAfter: Number.isFinite(after) ? after : null };
    next.entries[next.entries.length - 1] = stored;
    const write = this.writing.then(() => writeAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`));
    this.writing = write.catch(() => undefined);
    await write;
    this.data = next;
    this.accountant = accountant;
    return stored;
  }

  status(): BudgetStatus {
    const spent = this.spent();
    const last = this.data.entries.at(-1);
    return {
      epsilonBudget: this.budget.epsilon,
      delta: this.budget.delta,
      epsilonSpent: spent,
      epsilonRemaining: Math.max(0, this.budget.epsilon - spent),
      rounds: this.data.entries.length,
      lastRound: last?.round ?? null,
    };
  }
}

/** Write to a temp file in the same directory, fsync, rename: a crash leaves the old or the new file, never half. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new FhirfedError('FHIRFED_ERR_LEDGER', `cannot write the privacy ledger: ${(e as Error).message}`, {
      where: { file: path },
      hint: 'check that the directory exists and is writable',
    });
  }
}
