/**
 * The aggregator's durable state in its data dir, so a restarted aggregator resumes the round it was in:
 *
 *   state.json              rounds, registrations, versions, early-stopping counters (rewritten atomically)
 *   models/<version>.f32    global weights by version, little-endian Float32 (downloadable)
 *   optimizer/{m,v}.f32     FedAdam/FedYogi moments
 *   updates/<round>/<site>.json   update payloads received for an open round (deleted when it closes)
 *   federation.json         last polled status of every gateway
 *   audit.log               JSON lines: who sent what when (message type, round, sizes; never model contents)
 *
 * Every write goes to a temporary file first and is renamed into place, so a crash never leaves a torn file.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FhirfedError } from '../../core/errors.js';
import type { EvaluationReport, QualityStats, StatusReport, UpdatePayload } from '../messages.js';

export interface StoredUpdate {
  readonly site: string;
  /** The round the update was made for (a carried straggler's is older than the round it counts in). */
  readonly round: number;
  readonly modelVersion: string;
  readonly numSamples: number;
  readonly quality?: QualityStats | undefined;
  readonly receivedAt: string;
  readonly file: string;
}

export interface RoundState {
  readonly number: number;
  readonly modelVersion: string;
  readonly openedAt: string;
  readonly deadline: string;
  readonly selected: readonly string[];
  status: 'open' | 'closed' | 'failed';
  updates: Record<string, StoredUpdate>;
}

export interface SiteRecord {
  /** Set for sites added through the admin API (config sites carry their key in the config). */
  publicKey?: string;
  statusUrl?: string;
  software?: string;
  registeredAt?: string;
  lastSeen?: string;
  lastHeartbeat?: { at: string; modelVersion?: string; busy?: boolean };
}

export interface VersionRecord {
  readonly version: string;
  readonly round: number;
  readonly createdAt: string;
  metric?: number;
  evaluatedBy?: number;
}

export interface HistoryEntry {
  readonly round: number;
  readonly outcome: 'closed' | 'failed';
  readonly participants: readonly string[];
  readonly missing: readonly string[];
  readonly carriedIn: readonly string[];
  readonly closedAt: string;
  readonly version?: string;
  readonly reason: string;
}

export interface AggregatorState {
  v: 1;
  task: string;
  createdAt: string;
  status: 'running' | 'done';
  stopReason?: string;
  sites: Record<string, SiteRecord>;
  currentVersion: string;
  versions: VersionRecord[];
  best?: { version: string; metric: number };
  sinceBest: number;
  completedRounds: number;
  lastRound: number;
  round: RoundState | null;
  carried: StoredUpdate[];
  /** Holdout reports by model version, then site. */
  evaluations: Record<string, Record<string, EvaluationReport['heads']>>;
  history: HistoryEntry[];
  hasOptimizerState: boolean;
}

export interface PolledStatus {
  readonly polledAt: string;
  readonly ok: boolean;
  readonly status?: StatusReport;
  readonly error?: string;
}

function atomicWrite(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export class AggregatorStore {
  constructor(readonly dir: string) {
    try {
      for (const d of ['models', 'optimizer', 'updates']) mkdirSync(join(dir, d), { recursive: true });
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot create the aggregator data dir ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
        where: { path: 'dataDir' },
        hint: 'point dataDir at a writable volume',
      });
    }
  }

  private readJson<T>(name: string): T | undefined {
    const file = join(this.dir, name);
    if (!existsSync(file)) return undefined;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_INTERNAL', `the aggregator state file ${file} is unreadable (${e instanceof Error ? e.message : String(e)})`, {
        where: { file },
        hint: 'restore it from a backup, or move the data dir away to start a new federation',
      });
    }
  }

  loadState(): AggregatorState | undefined {
    return this.readJson<AggregatorState>('state.json');
  }

  saveState(state: AggregatorState): void {
    atomicWrite(join(this.dir, 'state.json'), JSON.stringify(state, null, 1));
  }

  private writeF32(file: string, values: Float32Array): void {
    atomicWrite(file, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }

  private readF32(file: string, what: string): Float32Array {
    if (!existsSync(file)) throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `${what} is not stored`, { where: { file } });
    const buf = readFileSync(file);
    if (buf.byteLength % 4 !== 0) throw new FhirfedError('FHIRFED_ERR_INTERNAL', `${file} is not a Float32 file (size ${buf.byteLength})`, { where: { file } });
    const out = new Float32Array(buf.byteLength / 4);
    new Uint8Array(out.buffer).set(buf);
    return out;
  }

  writeModel(version: string, weights: Float32Array): void {
    this.writeF32(join(this.dir, 'models', `${version}.f32`), weights);
  }

  hasModel(version: string): boolean {
    return existsSync(join(this.dir, 'models', `${version}.f32`));
  }

  readModel(version: string): Float32Array {
    return this.readF32(join(this.dir, 'models', `${version}.f32`), `model version ${version}`);
  }

  writeOptimizer(m: Float32Array | undefined, v: Float32Array | undefined): void {
    if (m) this.writeF32(join(this.dir, 'optimizer', 'm.f32'), m);
    if (v) this.writeF32(join(this.dir, 'optimizer', 'v.f32'), v);
  }

  readOptimizer(): { m?: Float32Array; v?: Float32Array } {
    const out: { m?: Float32Array; v?: Float32Array } = {};
    for (const k of ['m', 'v'] as const) {
      const f = join(this.dir, 'optimizer', `${k}.f32`);
      if (existsSync(f)) out[k] = this.readF32(f, `optimizer ${k}`);
    }
    return out;
  }

  /** Stores a payload and returns its path relative to the data dir. */
  writeUpdate(round: number, site: string, payload: UpdatePayload): string {
    const rel = join('updates', String(round), `${site}.json`);
    mkdirSync(join(this.dir, 'updates', String(round)), { recursive: true });
    atomicWrite(join(this.dir, rel), JSON.stringify(payload));
    return rel;
  }

  readUpdate(rel: string): UpdatePayload {
    return JSON.parse(readFileSync(join(this.dir, rel), 'utf8')) as UpdatePayload;
  }

  deleteUpdates(round: number): void {
    rmSync(join(this.dir, 'updates', String(round)), { recursive: true, force: true });
  }

  loadFederation(): Record<string, PolledStatus> {
    return this.readJson<Record<string, PolledStatus>>('federation.json') ?? {};
  }

  saveFederation(view: Record<string, PolledStatus>): void {
    atomicWrite(join(this.dir, 'federation.json'), JSON.stringify(view));
  }

  audit(entry: Record<string, unknown>): void {
    appendFileSync(join(this.dir, 'audit.log'), `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
  }
}
