/**
 * The aggregator's side of one secure-aggregation round. It relays keys and encrypted shares, collects masked
 * inputs, and with the shares revealed in the unmask step removes the self masks of survivors and the pair masks
 * that survivors shared with dropped sites. It never holds a key that could unmask an individual survivor's input.
 *
 * Every client message is schema-validated, bound to this round, signature-checked against the roster and accepted
 * at most once per (sender, type); anything else throws FHIRFED_ERR_SECAGG and leaves the round state unchanged.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { combine } from 'shamir-secret-sharing';
import { FixedPointCodec, ringAdd, ringSub } from './fixedpoint.js';
import { RoundGraph, checkParams, type SecAggParams } from './graph.js';
import { agree, maskSign, pairMaskKey, prgWords, selfMaskKey, x25519PublicOf } from './keys.js';
import {
  advertiseSchema,
  fromB64,
  maskedSchema,
  parseWire,
  ReplayGuard,
  rosterFrom,
  secaggError,
  SECAGG_WIRE_VERSION,
  sharesSchema,
  unmaskSchema,
  verifyMessage,
  type AdvertiseMsg,
  type ClientMsg,
  type KeysBroadcast,
  type SharesInbox,
  type SharesMsg,
  type UnmaskMsg,
  type UnmaskRequest,
} from './messages.js';
import type { ZodType } from 'zod';

export interface SecAggServerOptions {
  readonly round: string;
  readonly roster: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, string | Uint8Array>>;
  readonly params: SecAggParams;
}

export interface AggregateResult {
  /** Decoded sum of the survivors' updates (within FixedPointCodec.sumErrorBound of the true sum). */
  readonly sum: Float32Array;
  readonly survivors: readonly string[];
  /** Sites that sent shares but no masked input: their pair masks were removed, their updates are not in the sum. */
  readonly dropped: readonly string[];
  readonly sumErrorBound: number;
}

type Stage = 'advertise' | 'shares' | 'masked' | 'unmask' | 'done';

export class SecAggServer {
  readonly round: string;
  private readonly params: SecAggParams;
  private readonly roster: ReadonlyMap<string, Uint8Array>;
  private readonly guard: ReplayGuard;
  private stage: Stage = 'advertise';
  private graph: RoundGraph | undefined;
  private readonly adverts = new Map<string, AdvertiseMsg>();
  private readonly sharesBy = new Map<string, SharesMsg>();
  private readonly masked = new Map<string, Uint32Array>();
  private readonly unmasks = new Map<string, UnmaskMsg>();
  private request: UnmaskRequest | undefined;

  constructor(options: SecAggServerOptions) {
    checkParams(options.params);
    this.round = options.round;
    this.params = options.params;
    this.roster = options.roster instanceof Map ? options.roster : rosterFrom(options.roster as Record<string, string | Uint8Array>);
    this.guard = new ReplayGuard(this.round);
  }

  private admit<T extends ClientMsg>(schema: ZodType<T>, raw: unknown, what: string, stage: Stage): T {
    const msg = parseWire(schema, raw, what);
    this.guard.check(msg);
    verifyMessage(msg, this.roster);
    if (this.stage !== stage) throw secaggError(`${what} from ${msg.sender} arrived after that step closed (server is at '${this.stage}')`, 'the site was too slow and counts as dropped for this round');
    return msg;
  }

  private close(stage: Stage, next: Stage): void {
    if (this.stage !== stage) throw secaggError(`cannot close step '${stage}': the server is at '${this.stage}'`);
    this.stage = next;
  }

  receiveAdvertise(raw: unknown): void {
    const msg = this.admit(advertiseSchema, raw, 'advertisement', 'advertise');
    fromB64(msg.cPk, 'cPk', 32);
    fromB64(msg.sPk, 'sPk', 32);
    this.guard.accept(msg);
    this.adverts.set(msg.sender, msg);
  }

  /** Closes round 0 and returns the broadcast every advertiser needs; builds the mask graph. */
  keysBroadcast(): KeysBroadcast {
    this.graph = new RoundGraph(this.round, [...this.adverts.keys()], this.params);
    this.close('advertise', 'shares');
    return { v: SECAGG_WIRE_VERSION, type: 'keys', round: this.round, advertisements: [...this.adverts.values()] };
  }

  receiveShares(raw: unknown): void {
    const msg = this.admit(sharesSchema, raw, 'shares message', 'shares');
    const graph = this.graph as RoundGraph;
    if (!graph.has(msg.sender)) throw secaggError(`${msg.sender} sent shares without having advertised keys`, undefined, 'sender');
    const expected = graph.neighboursOf(msg.sender);
    const got = msg.shares.map((s) => s.to).sort();
    if (got.length !== expected.length || got.some((to, k) => to !== expected[k])) {
      throw secaggError(`${msg.sender} must send exactly one share to each of its ${expected.length} neighbours`, undefined, 'shares');
    }
    fromB64(msg.bHash, 'bHash', 32);
    this.guard.accept(msg);
    this.sharesBy.set(msg.sender, msg);
  }

  /** Closes round 1. */
  closeShares(): void {
    const graph = this.graph as RoundGraph;
    if (this.sharesBy.size < graph.threshold) {
      throw secaggError(`only ${this.sharesBy.size} site(s) sent shares; the threshold is ${graph.threshold}`, 'too many dropouts: restart the round');
    }
    this.close('shares', 'masked');
  }

  /** The encrypted shares addressed to `site`, from every site that sent shares. */
  inboxFor(site: string): SharesInbox {
    if (this.stage === 'advertise' || this.stage === 'shares') throw secaggError('inboxes are ready only after closeShares()');
    const shares: SharesInbox['shares'] = [];
    for (const [from, msg] of this.sharesBy) {
      const entry = msg.shares.find((s) => s.to === site);
      if (entry) shares.push({ from, nonce: entry.nonce, ct: entry.ct });
    }
    return { v: SECAGG_WIRE_VERSION, type: 'inbox', round: this.round, to: site, shares };
  }

  receiveMasked(raw: unknown): void {
    const msg = this.admit(maskedSchema, raw, 'masked input', 'masked');
    if (!this.sharesBy.has(msg.sender)) throw secaggError(`${msg.sender} sent a masked input without having sent shares`, undefined, 'sender');
    if (msg.length !== this.params.vectorLength) {
      throw secaggError(`masked input of ${msg.sender} has ${msg.length} values, the round expects ${this.params.vectorLength}`, undefined, 'length');
    }
    const bytes = fromB64(msg.data, 'masked data', msg.length * 4);
    const words = new Uint32Array(msg.length);
    new Uint8Array(words.buffer).set(bytes);
    this.guard.accept(msg);
    this.masked.set(msg.sender, words);
  }

  /** Closes round 2: survivors = sites with a masked input; dropped = sites that sent shares but no input. */
  unmaskRequest(): UnmaskRequest {
    const graph = this.graph as RoundGraph;
    if (this.masked.size < graph.threshold) {
      throw secaggError(`only ${this.masked.size} masked input(s); the threshold is ${graph.threshold}`, 'too many dropouts: restart the round');
    }
    this.close('masked', 'unmask');
    const survivors = [...this.masked.keys()].sort();
    const dropped = [...this.sharesBy.keys()].filter((s) => !this.masked.has(s)).sort();
    this.request = { v: SECAGG_WIRE_VERSION, type: 'unmask-request', round: this.round, survivors, dropped };
    return this.request;
  }

  receiveUnmask(raw: unknown): void {
    const msg = this.admit(unmaskSchema, raw, 'unmask response', 'unmask');
    const graph = this.graph as RoundGraph;
    const req = this.request as UnmaskRequest;
    if (!req.survivors.includes(msg.sender)) throw secaggError(`${msg.sender} is not a survivor of round ${this.round}`, undefined, 'sender');
    for (const s of msg.seedShares) {
      if (!req.survivors.includes(s.of) || !graph.holdersOf(s.of).includes(msg.sender)) throw secaggError(`${msg.sender} sent a seed share of ${s.of} it cannot hold`, undefined, 'seedShares');
    }
    for (const s of msg.keyShares) {
      if (!req.dropped.includes(s.of) || !graph.holdersOf(s.of).includes(msg.sender)) throw secaggError(`${msg.sender} sent a key share of ${s.of} it cannot hold`, undefined, 'keyShares');
    }
    this.guard.accept(msg);
    this.unmasks.set(msg.sender, msg);
  }

  private async rebuild(of: string, kind: 'seedShares' | 'keyShares'): Promise<Uint8Array> {
    const shares: Uint8Array[] = [];
    for (const m of this.unmasks.values()) {
      const s = m[kind].find((x) => x.of === of);
      if (s) shares.push(fromB64(s.share, 'share'));
    }
    const t = (this.graph as RoundGraph).threshold;
    if (shares.length < t) {
      throw secaggError(`only ${shares.length} share(s) of ${of}'s ${kind === 'seedShares' ? 'self-mask seed' : 'mask key'} arrived; ${t} are needed`, 'wait for more unmask responses');
    }
    return combine(shares.slice(0, Math.max(t, 2)));
  }

  /** Unmasks and decodes the sum of the survivors' updates. */
  async aggregate(): Promise<AggregateResult> {
    const graph = this.graph as RoundGraph;
    const req = this.request as UnmaskRequest;
    if (this.stage !== 'unmask') throw secaggError(`aggregate() needs the unmask step (server is at '${this.stage}')`);
    const n = this.params.vectorLength;
    const acc = new Uint32Array(n);
    for (const id of req.survivors) ringAdd(acc, this.masked.get(id) as Uint32Array);
    const mask = new Uint32Array(n);
    for (const u of req.survivors) {
      const b = await this.rebuild(u, 'seedShares');
      if (Buffer.from(sha256(b)).toString('base64') !== this.sharesBy.get(u)?.bHash) {
        throw secaggError(`the self-mask seed rebuilt for ${u} does not match its commitment: a share was corrupted`, 'find the site whose unmask response is wrong');
      }
      ringSub(acc, prgWords(selfMaskKey(b, this.round, u), n, mask));
    }
    for (const v of req.dropped) {
      const sk = await this.rebuild(v, 'keyShares');
      const adv = this.adverts.get(v) as AdvertiseMsg;
      if (Buffer.from(x25519PublicOf(sk)).toString('base64') !== adv.sPk) {
        throw secaggError(`the mask key rebuilt for dropped site ${v} does not match its advertised key: a share was corrupted`);
      }
      for (const u of req.survivors) {
        if (!graph.isEdge(u, v)) continue;
        const uPk = fromB64((this.adverts.get(u) as AdvertiseMsg).sPk, 'sPk', 32);
        prgWords(pairMaskKey(agree(sk, uPk, u), this.round, u, v), n, mask);
        // u added sign(u, v) * PRG(s_uv); take it back out.
        if (maskSign(u, v) > 0) ringSub(acc, mask);
        else ringAdd(acc, mask);
      }
    }
    this.stage = 'done';
    const codec = new FixedPointCodec({ fractionalBits: this.params.fractionalBits ?? 16, maxSummands: graph.participants.length });
    return { sum: codec.decode(acc), survivors: req.survivors, dropped: req.dropped, sumErrorBound: codec.sumErrorBound };
  }
}
