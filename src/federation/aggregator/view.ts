/** GET /federation: the federation at a glance (rounds, versions, every site's registration and last status). */
import type { StatusPoller } from './poller.js';
import type { RoundEngine } from './rounds.js';

export function federationView(engine: RoundEngine, poller: StatusPoller | undefined): Record<string, unknown> {
  const s = engine.snapshot();
  const polled = poller?.snapshot() ?? {};
  const r = s.round;
  const secure = r ? engine.secure?.progress(r.number) : undefined;
  return {
    v: 1,
    type: 'federation',
    task: s.task,
    status: s.status,
    ...(s.stopReason ? { stopReason: s.stopReason } : {}),
    completedRounds: s.completedRounds,
    currentVersion: s.currentVersion,
    best: s.best ?? null,
    round: r
      ? {
          number: r.number,
          status: r.status,
          modelVersion: r.modelVersion,
          deadline: r.deadline,
          selected: r.selected,
          submitted: Object.keys(r.updates).sort(),
          // Secure rounds: updates arrive through the relay step by step, so `submitted` stays empty; this says where
          // the protocol is.
          ...(secure ? { secure } : {}),
        }
      : null,
    carried: s.carried.map((c) => ({ site: c.site, round: c.round })),
    versions: s.versions.map((v) => ({ version: v.version, round: v.round, createdAt: v.createdAt, ...(v.metric === undefined ? {} : { metric: v.metric, evaluatedBy: v.evaluatedBy }) })),
    history: s.history.slice(-20),
    // Holdout metrics each site reported for each global model version (federated evaluation; no PHI).
    evaluations: s.evaluations,
    sites: engine.knownSites().map((id) => {
      const rec = s.sites[id] ?? {};
      const p = polled[id];
      return {
        id,
        registered: rec.registeredAt !== undefined,
        lastSeen: rec.lastSeen ?? null,
        lastHeartbeat: rec.lastHeartbeat ?? null,
        statusUrl: engine.statusUrlOf(id) ?? null,
        lastStatus: p?.status ?? null,
        polledAt: p?.polledAt ?? null,
        pollOk: p?.ok ?? null,
        pollError: p?.error ?? null,
      };
    }),
  };
}
