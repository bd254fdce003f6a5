/**
 * What this site already did per (task, round), on disk: evaluated, training started, update submitted. A gateway
 * that restarts mid-round resumes from here and never submits a second update for a round (the aggregator dedupes
 * too, but a site should not rely on it). Written atomically; kept small by forgetting all but the last rounds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FhirfedError } from '../core/errors.js';

export type RoundStep = 'evaluated' | 'started' | 'submitted' | 'final-evaluated';

interface LedgerFile {
  v: 1;
  rounds: Record<string, Partial<Record<RoundStep, string>> & { outcome?: string }>;
}

const KEEP = 200;

export class RoundLedger {
  private data: LedgerFile;

  constructor(private readonly file: string) {
    this.data = { v: 1, rounds: {} };
    if (existsSync(file)) {
      try {
        this.data = JSON.parse(readFileSync(file, 'utf8')) as LedgerFile;
      } catch {
        throw new FhirfedError('FHIRFED_ERR_INTERNAL', `the round ledger ${file} is unreadable`, {
          where: { file },
          hint: 'restore it from a backup; deleting it risks submitting a round twice (the aggregator would refuse the duplicate)',
        });
      }
    } else {
      mkdirSync(dirname(file), { recursive: true });
    }
  }

  private key(task: string, round: number): string {
    return `${task}@${round}`;
  }

  has(task: string, round: number, step: RoundStep): boolean {
    return this.data.rounds[this.key(task, round)]?.[step] !== undefined;
  }

  mark(task: string, round: number, step: RoundStep, outcome?: string): void {
    const k = this.key(task, round);
    this.data.rounds[k] = { ...this.data.rounds[k], [step]: new Date().toISOString(), ...(outcome ? { outcome } : {}) };
    const keys = Object.keys(this.data.rounds);
    for (const old of keys.slice(0, Math.max(0, keys.length - KEEP))) delete this.data.rounds[old];
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }

  outcome(task: string, round: number): string | undefined {
    return this.data.rounds[this.key(task, round)]?.outcome;
  }
}
