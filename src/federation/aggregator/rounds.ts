/**
 * The round engine: one task, rounds one after another. A round opens once `minSites` sites have registered,
 * selects participants, and closes when every selected site has submitted or at its deadline with at least
 * `minSites` updates (otherwise it fails and a new round starts from the same model). Closing combines the updates
 * with the configured strategy into the next global version, scores the version the round started from with the
 * sites' holdout reports, and stops early when that score stops improving.
 *
 * Every mutation runs through `serial` (one at a time) and is persisted before it is acknowledged, so a restart
 * resumes the open round with the updates already received.
 *
 * With `task.codec: masking` or `paillier` no update arrives through POST /v1/updates: the sites run the
 * pairwise-masking (or Paillier) protocol through the relay (secure-round.ts), one step deadline at a time, and the
 * round closes with the sum of the contributions. That protocol state is in memory only, so a restart abandons a secure round
 * (failed, reason recorded) and opens a new one from the same global model.
 */
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { UpdateDecoder } from '../codec.js';
import type { EvaluationReport, GlobalModelMsg, Heartbeat, Registration, RoundAnnouncement, UpdateEnvelope } from '../messages.js';
import { parsePublicKey } from '../signing.js';
import type { Strategy } from '../strategies/index.js';
import { aggregateUpdates, initialWeights } from './combine.js';
import type { AggregatorConfig } from './config.js';
import { observeScore, weightedScore } from './evaluation.js';
import { announcementOf, modelMessage } from './reads.js';
import { SecureRounds } from './secure-rounds.js';
import { selectParticipants } from './selection.js';
import type { AggregatorState, AggregatorStore, StoredUpdate } from './store.js';

export interface RoundEngineDeps {
  readonly config: AggregatorConfig;
  readonly store: AggregatorStore;
  readonly decoder: UpdateDecoder;
  readonly strategy: Strategy;
  readonly logger: Logger;
}

export type UpdateOutcome = 'accepted' | 'duplicate' | 'carried';

const MAX_TIMER_MS = 60 * 60 * 1000;
const conflict = (message: string, hint?: string): FhirfedError => new FhirfedError('FHIRFED_ERR_CONFLICT', message, hint ? { hint } : {});

export class RoundEngine {
  private state!: AggregatorState;
  private length = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly configKeys = new Map<string, Uint8Array>();
  private closed = false;
  /** The secure-aggregation relay (codec masking or paillier); routes call it directly. */
  readonly secure: SecureRounds | undefined;

  constructor(private readonly deps: RoundEngineDeps) {
    deps.config.sites.forEach((s, i) => this.configKeys.set(s.id, parsePublicKey(s.publicKey, `sites[${i}].publicKey`)));
    if (deps.config.task.codec !== 'plain') {
      this.secure = new SecureRounds({
        task: deps.config.task,
        store: deps.store,
        logger: deps.logger,
        serial: (fn) => this.serial(fn),
        round: () => this.state.round,
        history: () => this.state.history,
        length: () => this.length,
        publicKeyOf: (site) => this.publicKeyOf(site),
        touch: (site) => {
          this.touch(site);
          this.save();
        },
        fail: (reason) => this.failRound(reason),
        commit: (delta, participants, reason) => this.commitRound(delta, participants, [], reason),
        schedule: () => this.schedule(),
      });
    }
  }

  private get cfg(): AggregatorConfig['task'] {
    return this.deps.config.task;
  }

  /** Runs mutations one at a time, in arrival order. */
  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private save(): void {
    this.deps.store.saveState(this.state);
  }

  async init(): Promise<void> {
    await this.serial(() => {
      const { store } = this.deps;
      const loaded = store.loadState();
      if (loaded && loaded.task !== this.cfg.name) {
        throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `the data dir ${store.dir} holds task ${loaded.task}, the config says ${this.cfg.name}`, {
          where: { path: 'task.name' },
          hint: 'use one data dir per task',
        });
      }
      this.state = loaded ?? this.freshState();
      this.length = store.readModel(this.state.currentVersion).length;
      if (this.cfg.model.parameters !== undefined && this.cfg.model.parameters !== this.length) {
        throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `model.parameters is ${this.cfg.model.parameters} but the stored model has ${this.length}`, { where: { path: 'task.model.parameters' } });
      }
      if (loaded) this.deps.logger.info({ round: this.state.round?.number, status: this.state.round?.status, version: this.state.currentVersion }, 'aggregator state restored');
      if (this.state.round?.status === 'open' && this.secure) this.failRound('the aggregator restarted during this secure-aggregation round; its in-memory protocol state is gone');
      else if (this.state.round?.status === 'open') this.schedule();
      else this.maybeOpenRound();
    });
  }

  private freshState(): AggregatorState {
    const weights = initialWeights(this.cfg.model);
    this.deps.store.writeModel('v0', weights);
    const now = new Date().toISOString();
    return {
      v: 1,
      task: this.cfg.name,
      createdAt: now,
      status: 'running',
      sites: {},
      currentVersion: 'v0',
      versions: [{ version: 'v0', round: 0, createdAt: now }],
      sinceBest: 0,
      completedRounds: 0,
      lastRound: 0,
      round: null,
      carried: [],
      evaluations: {},
      history: [],
      hasOptimizerState: false,
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  // ---- sites -------------------------------------------------------------------------------------------------

  publicKeyOf(site: string): Uint8Array | undefined {
    const fromConfig = this.configKeys.get(site);
    if (fromConfig) return fromConfig;
    const k = this.state.sites[site]?.publicKey;
    return k ? parsePublicKey(k, `admin-registered key of ${site}`) : undefined;
  }

  knownSites(): string[] {
    return [...new Set([...this.configKeys.keys(), ...Object.keys(this.state.sites).filter((s) => this.state.sites[s]?.publicKey)])].sort();
  }

  statusUrlOf(site: string): string | undefined {
    return this.state.sites[site]?.statusUrl ?? this.deps.config.sites.find((s) => s.id === site)?.statusUrl;
  }

  addSite(id: string, publicKey: string, statusUrl?: string): Promise<void> {
    return this.serial(() => {
      if (this.configKeys.has(id)) throw conflict(`site ${id} is defined in the config file`, 'change its key there');
      try {
        parsePublicKey(publicKey, 'publicKey');
      } catch (e) {
        // A bad key in an admin request is the caller's mistake (422), not a server configuration error (500).
        throw new FhirfedError('FHIRFED_ERR_VALIDATION', (e as Error).message, { where: { path: 'publicKey' }, hint: "send the site's base64 ed25519 public key (32 bytes)" });
      }
      this.state.sites[id] = { ...this.state.sites[id], publicKey, ...(statusUrl ? { statusUrl } : {}) };
      this.save();
      this.deps.store.audit({ who: 'operator', what: 'add-site', site: id });
    });
  }

  private touch(site: string): void {
    this.state.sites[site] = { ...this.state.sites[site], lastSeen: new Date().toISOString() };
  }

  register(site: string, msg: Registration): Promise<void> {
    return this.serial(() => {
      const rec = this.state.sites[site] ?? {};
      this.state.sites[site] = {
        ...rec,
        registeredAt: rec.registeredAt ?? new Date().toISOString(),
        lastSeen: new Date().toISOString(),
        ...(msg.statusUrl ? { statusUrl: msg.statusUrl } : {}),
        ...(msg.software ? { software: msg.software } : {}),
      };
      this.save();
      this.deps.store.audit({ who: site, what: 'register' });
      this.maybeOpenRound();
    });
  }

  heartbeat(site: string, msg: Heartbeat): Promise<void> {
    return this.serial(() => {
      this.touch(site);
      const rec = this.state.sites[site] as NonNullable<AggregatorState['sites'][string]>;
      rec.lastHeartbeat = { at: msg.at, ...(msg.modelVersion ? { modelVersion: msg.modelVersion } : {}), ...(msg.busy !== undefined ? { busy: msg.busy } : {}) };
      this.save();
    });
  }

  // ---- rounds ------------------------------------------------------------------------------------------------

  private registered(): string[] {
    return this.knownSites().filter((s) => this.state.sites[s]?.registeredAt);
  }

  private maybeOpenRound(): void {
    if (this.closed || this.state.status === 'done' || this.state.round?.status === 'open') return;
    if (this.state.completedRounds >= this.cfg.rounds) {
      this.finish(`completed ${this.state.completedRounds} round(s)`);
      return;
    }
    const sites = this.registered();
    // The first round waits for the expected sites, so an early registrant does not start a round without the rest.
    const needed = this.state.lastRound === 0 ? (this.cfg.startSites ?? Math.max(this.cfg.minSites, this.deps.config.sites.length)) : this.cfg.minSites;
    if (sites.length < needed) return;
    const number = this.state.lastRound + 1;
    const selected = selectParticipants(sites, { fraction: this.cfg.fraction, minSites: this.cfg.minSites, seed: this.cfg.seed, round: number });
    const openedAt = new Date();
    this.state.round = {
      number,
      modelVersion: this.state.currentVersion,
      openedAt: openedAt.toISOString(),
      deadline: new Date(openedAt.getTime() + this.cfg.deadlineSeconds * 1000).toISOString(),
      selected,
      status: 'open',
      updates: {},
    };
    this.state.lastRound = number;
    this.secure?.open(number, selected, Date.parse(this.state.round.deadline));
    this.save();
    this.deps.store.audit({ who: 'aggregator', what: 'open-round', round: number, modelVersion: this.state.currentVersion, selected });
    this.deps.logger.info({ round: number, selected: selected.length, modelVersion: this.state.currentVersion }, 'round opened');
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const r = this.state.round;
    if (!r || r.status !== 'open' || this.closed) return;
    const due = this.secure?.deadlineOf(r.number) ?? Date.parse(r.deadline);
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, due - Date.now()));
    this.timer = setTimeout(() => {
      this.serial(() => this.onDeadline(r.number)).catch((e: unknown) => this.deps.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'closing the round failed'));
    }, wait);
    this.timer.unref();
  }

  private async onDeadline(number: number): Promise<void> {
    const r = this.state.round;
    if (!r || r.number !== number || r.status !== 'open') return;
    if (this.secure?.deadlineOf(number) !== undefined) {
      await this.secure.onDeadline(number);
      return;
    }
    if (Date.now() < Date.parse(r.deadline)) {
      this.schedule();
      return;
    }
    const sites = new Set([...Object.keys(r.updates), ...this.state.carried.map((c) => c.site)]);
    if (sites.size >= this.cfg.minSites) await this.closeRound('deadline');
    else this.failRound(`deadline passed with ${sites.size} of the ${this.cfg.minSites} update(s) needed`);
  }

  private finish(reason: string): void {
    this.state.status = 'done';
    this.state.stopReason = reason;
    this.save();
    this.deps.store.audit({ who: 'aggregator', what: 'stop', reason });
    this.deps.logger.info({ reason, best: this.state.best }, 'federation finished');
  }

  private failRound(reason: string): void {
    const r = this.state.round as NonNullable<AggregatorState['round']>;
    r.status = 'failed';
    this.secure?.discard();
    const received = Object.values(r.updates);
    if (this.cfg.stragglers === 'next-round' && this.deps.decoder.revealsIndividualUpdates) {
      this.state.carried = [...this.state.carried.filter((c) => !r.updates[c.site]), ...received];
    } else {
      this.deps.store.deleteUpdates(r.number);
    }
    this.state.history.push({ round: r.number, outcome: 'failed', participants: received.map((u) => u.site), missing: r.selected.filter((s) => !r.updates[s]), carriedIn: [], closedAt: new Date().toISOString(), reason });
    this.save();
    this.deps.store.audit({ who: 'aggregator', what: 'fail-round', round: r.number, reason });
    this.deps.logger.warn({ round: r.number, reason }, 'round failed');
    this.maybeOpenRound();
  }

  private aggregatedDelta(current: readonly StoredUpdate[], carried: readonly StoredUpdate[]): Promise<Float32Array> {
    const { decoder, store, strategy } = this.deps;
    return aggregateUpdates({ current, carried, decoder, strategy, length: this.length, weighting: this.cfg.weighting, read: (file) => store.readUpdate(file) });
  }

  private async closeRound(reason: string): Promise<void> {
    const r = this.state.round as NonNullable<AggregatorState['round']>;
    const current = Object.values(r.updates);
    // A site with a fresh update is not counted twice through an older carried one.
    const carried = this.state.carried.filter((c) => !r.updates[c.site]);
    const delta = await this.aggregatedDelta(current, carried);
    this.commitRound(delta, current.map((u) => u.site), carried, reason);
  }

  /** Applies the round's aggregated delta: next global version, evaluation, history, audit, next round. */
  private commitRound(delta: Float32Array, participants: readonly string[], carried: readonly StoredUpdate[], reason: string): void {
    const r = this.state.round as NonNullable<AggregatorState['round']>;
    const { store, strategy } = this.deps;
    const opt = this.state.hasOptimizerState ? store.readOptimizer() : {};
    const next = strategy.apply(store.readModel(this.state.currentVersion), delta, opt);
    const version = `v${this.state.completedRounds + 1}`;
    store.writeModel(version, next.global);
    if (next.state.m || next.state.v) {
      store.writeOptimizer(next.state.m, next.state.v);
      this.state.hasOptimizerState = true;
    }
    let stop = false;
    const score = weightedScore(this.state.evaluations[r.modelVersion] ?? {}, this.cfg.evaluation.metric);
    if (score) {
      const rec = this.state.versions.find((v) => v.version === r.modelVersion);
      if (rec) Object.assign(rec, { metric: score.score, evaluatedBy: score.sites });
      stop = observeScore(this.state, r.modelVersion, score.score, this.cfg.evaluation);
    }
    r.status = 'closed';
    this.state.currentVersion = version;
    this.state.versions.push({ version, round: r.number, createdAt: new Date().toISOString() });
    this.state.completedRounds += 1;
    this.state.history.push({
      round: r.number,
      outcome: 'closed',
      participants: [...participants],
      missing: r.selected.filter((s) => !participants.includes(s)),
      carriedIn: carried.map((c) => `${c.site}@${c.round}`),
      closedAt: new Date().toISOString(),
      version,
      reason,
    });
    const carriedRounds = new Set(this.state.carried.map((c) => c.round));
    this.state.carried = [];
    if (stop) this.finish(`early stopping: no improvement of ${this.cfg.evaluation.metric} for ${this.state.sinceBest} round(s)`);
    this.save();
    store.deleteUpdates(r.number);
    for (const n of carriedRounds) store.deleteUpdates(n);
    store.audit({ who: 'aggregator', what: 'close-round', round: r.number, version, participants: participants.length, carried: carried.length, reason });
    this.deps.logger.info({ round: r.number, version, participants: participants.length, reason }, 'round closed');
    this.maybeOpenRound();
  }

  receiveUpdate(site: string, env: UpdateEnvelope): Promise<UpdateOutcome> {
    return this.serial(async () => {
      if (env.task !== this.cfg.name) throw conflict(`this aggregator runs task ${this.cfg.name}, not ${env.task}`);
      const r = this.state.round;
      if (this.secure) {
        throw conflict(`task ${this.cfg.name} uses secure aggregation (${this.cfg.codec}): updates are not accepted in the clear`, `run the protocol through /v1/secagg (set the gateway's secagg.scheme to ${this.cfg.codec})`);
      }
      this.touch(site);
      if (r && r.number === env.round && r.status === 'open') {
        if (!r.selected.includes(site)) {
          throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `site ${site} was not selected for round ${r.number}`, { hint: 'wait for a round that selects this site' });
        }
        if (r.updates[site]) return 'duplicate';
        if (env.modelVersion !== r.modelVersion) {
          throw conflict(`round ${r.number} trains from model ${r.modelVersion}, the update was made from ${env.modelVersion}`, 'download the round\'s model and train again');
        }
        this.deps.decoder.check(site, env.payload, this.length);
        const file = this.deps.store.writeUpdate(r.number, site, env.payload);
        r.updates[site] = { site, round: r.number, modelVersion: env.modelVersion, numSamples: env.numSamples, quality: env.quality, receivedAt: new Date().toISOString(), file };
        this.save();
        this.deps.store.audit({ who: site, what: 'update', round: r.number, numSamples: env.numSamples, scheme: env.payload.scheme });
        if (r.selected.every((s) => r.updates[s])) await this.closeRound('all selected sites submitted');
        return 'accepted';
      }
      return this.late(site, env);
    });
  }

  private late(site: string, env: UpdateEnvelope): UpdateOutcome {
    const past = this.state.history.filter((h) => h.round === env.round);
    if (past.length === 0) throw conflict(`round ${env.round} is not open (current round: ${this.state.round?.number ?? 'none'})`, 'poll GET /v1/rounds/current for the open round');
    if (past.some((h) => h.participants.includes(site)) || this.state.carried.some((c) => c.site === site && c.round === env.round)) return 'duplicate';
    const wasSelected = past.some((h) => h.missing.includes(site));
    if (this.cfg.stragglers === 'next-round' && wasSelected && this.deps.decoder.revealsIndividualUpdates && this.state.status === 'running') {
      this.deps.decoder.check(site, env.payload, this.length);
      const file = this.deps.store.writeUpdate(env.round, site, env.payload);
      this.state.carried = this.state.carried.filter((c) => c.site !== site);
      this.state.carried.push({ site, round: env.round, modelVersion: env.modelVersion, numSamples: env.numSamples, quality: env.quality, receivedAt: new Date().toISOString(), file });
      this.save();
      this.deps.store.audit({ who: site, what: 'late-update-carried', round: env.round, numSamples: env.numSamples });
      return 'carried';
    }
    this.deps.store.audit({ who: site, what: 'late-update-dropped', round: env.round });
    throw conflict(`round ${env.round} is closed; the late update was dropped (stragglers: ${this.cfg.stragglers})`, 'the site should follow the next round');
  }

  receiveEvaluation(site: string, report: EvaluationReport): Promise<void> {
    return this.serial(() => {
      if (report.task !== this.cfg.name) throw conflict(`this aggregator runs task ${this.cfg.name}, not ${report.task}`);
      const rec = this.state.versions.find((v) => v.version === report.modelVersion);
      if (!rec) throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `model version ${report.modelVersion} does not exist`, { where: { path: 'modelVersion' } });
      this.touch(site);
      const byVersion = (this.state.evaluations[report.modelVersion] ??= {});
      byVersion[site] = report.heads;
      // A version no round will score any more (e.g. the final one) is scored here; it may become the best.
      const pending = this.state.round?.status === 'open' && this.state.round.modelVersion === report.modelVersion;
      if (!pending && rec.round === this.state.completedRounds && this.state.status === 'done') {
        const score = weightedScore(byVersion, this.cfg.evaluation.metric);
        if (score) {
          Object.assign(rec, { metric: score.score, evaluatedBy: score.sites });
          if (!this.state.best || score.score > this.state.best.metric + this.cfg.evaluation.minDelta) this.state.best = { version: rec.version, metric: score.score };
        }
      }
      this.save();
      this.deps.store.audit({ who: site, what: 'evaluation', modelVersion: report.modelVersion, heads: Object.keys(report.heads).length });
    });
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  announcement(): RoundAnnouncement | undefined {
    return announcementOf(this.state, this.cfg, this.deps.strategy);
  }

  model(which: string): GlobalModelMsg {
    return modelMessage(this.state, this.deps.store, this.cfg.name, which);
  }

  snapshot(): Readonly<AggregatorState> {
    return this.state;
  }
}
