/**
 * Read-only views of the engine state sent to sites: the round announcement and a global model by version.
 */
import { createHash } from 'node:crypto';
import { FhirfedError } from '../../core/errors.js';
import { float32ToBase64, WIRE_VERSION, type GlobalModelMsg, type RoundAnnouncement } from '../messages.js';
import type { Strategy } from '../strategies/index.js';
import type { AggregatorConfig } from './config.js';
import type { AggregatorState, AggregatorStore } from './store.js';

export function announcementOf(state: AggregatorState, cfg: AggregatorConfig['task'], strategy: Strategy): RoundAnnouncement | undefined {
  const r = state.round;
  const hyper = { ...cfg.hyper, ...('mu' in strategy ? { proxMu: strategy.mu } : {}) };
  const common = { v: WIRE_VERSION, type: 'round' as const, task: cfg.name, codec: cfg.codec, hyper };
  if (state.status === 'done') {
    return {
      ...common,
      round: state.lastRound,
      status: 'done',
      modelVersion: state.currentVersion,
      deadline: r?.deadline ?? new Date().toISOString(),
      selected: r?.selected ? [...r.selected] : [],
      ...(state.stopReason ? { stopReason: state.stopReason } : {}),
      bestVersion: state.best?.version ?? state.currentVersion,
    };
  }
  if (!r) return undefined;
  return { ...common, round: r.number, status: r.status === 'open' ? 'open' : 'closed', modelVersion: r.modelVersion, deadline: r.deadline, selected: [...r.selected] };
}

export function modelMessage(state: AggregatorState, store: AggregatorStore, task: string, which: string): GlobalModelMsg {
  const version = which === 'latest' ? state.currentVersion : which === 'best' ? (state.best?.version ?? state.currentVersion) : which;
  const rec = state.versions.find((v) => v.version === version);
  if (!rec) throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `model version ${which} does not exist`, { hint: 'use latest, best, or a version from GET /federation' });
  const weights = store.readModel(version);
  const bytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  return {
    v: WIRE_VERSION,
    type: 'global-model',
    task,
    version,
    round: rec.round,
    length: weights.length,
    encoding: 'f32le-base64',
    weights: float32ToBase64(weights),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
