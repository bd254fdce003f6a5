/**
 * One site's side of one secure-aggregation round (Bonawitz et al. 2017, Figure 4, semi-honest variant):
 *
 *   advertise()          -> fresh X25519 keys (c for share encryption, s for masks), signed with the site's ed25519 key
 *   shareKeys(keys)      -> verifies every advertisement against the roster, Shamir-splits s_SK and the self-mask
 *                           seed b among the share holders, encrypts each holder's pair of shares to it
 *   maskedInput(inbox, x) -> decrypts the shares it holds, returns y = enc(x) + PRG(b) + sum_v +-PRG(s_uv) mod 2^32
 *   unmask(request)      -> reveals b-shares of survivors and s-shares of dropped sites, never both for one site
 *
 * The consistency-check round of the malicious-secure variant is not implemented: the aggregator is assumed to
 * follow the protocol (it may be curious), while forged or altered client messages are detected by signatures.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { split } from 'shamir-secret-sharing';
import { FixedPointCodec, ringAdd, ringSub } from './fixedpoint.js';
import { RoundGraph, checkParams, type SecAggParams } from './graph.js';
import { agree, decryptShare, encryptShare, maskSign, newX25519Pair, pairMaskKey, prgWords, randomSeed, selfMaskKey, type X25519Pair } from './keys.js';
import {
  advertiseSchema,
  fromB64,
  keysBroadcastSchema,
  parseWire,
  ReplayGuard,
  rosterFrom,
  secaggError,
  SECAGG_WIRE_VERSION,
  sharesInboxSchema,
  signMessage,
  toB64,
  unmaskRequestSchema,
  verifyMessage,
  type AdvertiseMsg,
  type MaskedMsg,
  type SharesMsg,
  type UnmaskMsg,
} from './messages.js';

/** Bytes of one Shamir share of a 32-byte secret (the library appends the x coordinate). */
export const SHARE_BYTES = 33;

export interface SecAggClientOptions {
  readonly siteId: string;
  readonly round: string;
  /** The site's long-term ed25519 secret key (32 bytes). */
  readonly signingKey: Uint8Array;
  /** ed25519 public keys of every site of the federation (base64 or bytes). */
  readonly roster: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, string | Uint8Array>>;
  readonly params: SecAggParams;
}

type Stage = 'new' | 'advertised' | 'shared' | 'masked' | 'done';

export class SecAggClient {
  readonly siteId: string;
  readonly round: string;
  private readonly params: SecAggParams;
  private readonly signingKey: Uint8Array;
  private readonly roster: ReadonlyMap<string, Uint8Array>;
  private readonly c: X25519Pair = newX25519Pair();
  private readonly s: X25519Pair = newX25519Pair();
  private readonly b: Uint8Array = randomSeed();
  private stage: Stage = 'new';
  private graph: RoundGraph | undefined;
  private readonly peers = new Map<string, { cPk: Uint8Array; sPk: Uint8Array }>();
  /** X25519 agreements computed once in shareKeys, so the masked-input step does no public-key work. */
  private readonly cShared = new Map<string, Uint8Array>();
  private readonly maskKeys = new Map<string, Uint8Array>();
  /** Shares this site holds: of whose secrets (including its own). */
  private readonly held = new Map<string, { sShare: Uint8Array; bShare: Uint8Array }>();

  constructor(options: SecAggClientOptions) {
    checkParams(options.params);
    this.siteId = options.siteId;
    this.round = options.round;
    this.params = options.params;
    this.signingKey = options.signingKey;
    this.roster = options.roster instanceof Map ? options.roster : rosterFrom(options.roster as Record<string, string | Uint8Array>);
    if (!this.roster.has(this.siteId)) throw secaggError(`site ${this.siteId} is not in the federation roster`);
  }

  private expect(stage: Stage, next: Stage, step: string): void {
    if (this.stage !== stage) throw secaggError(`${step} called out of order (client ${this.siteId} is at stage '${this.stage}')`);
    this.stage = next;
  }

  private header<T extends string>(type: T): { v: typeof SECAGG_WIRE_VERSION; type: T; round: string; sender: string } {
    return { v: SECAGG_WIRE_VERSION, type, round: this.round, sender: this.siteId };
  }

  /** Round 0. */
  advertise(): AdvertiseMsg {
    this.expect('new', 'advertised', 'advertise');
    return signMessage<AdvertiseMsg>({ ...this.header('advertise'), cPk: toB64(this.c.publicKey), sPk: toB64(this.s.publicKey) }, this.signingKey);
  }

  /** Round 1: takes the aggregator's broadcast of all advertisements. */
  async shareKeys(broadcast: unknown): Promise<SharesMsg> {
    const keys = parseWire(keysBroadcastSchema, broadcast, 'key broadcast');
    if (keys.round !== this.round) throw secaggError(`key broadcast is for round ${keys.round}, not ${this.round}`, undefined, 'round');
    this.expect('advertised', 'shared', 'shareKeys');
    const guard = new ReplayGuard(this.round);
    for (const raw of keys.advertisements) {
      const adv = parseWire(advertiseSchema, raw, 'advertisement');
      guard.check(adv);
      verifyMessage(adv, this.roster);
      guard.accept(adv);
      this.peers.set(adv.sender, { cPk: fromB64(adv.cPk, 'cPk', 32), sPk: fromB64(adv.sPk, 'sPk', 32) });
    }
    const mine = this.peers.get(this.siteId);
    if (!mine || toB64(mine.cPk) !== toB64(this.c.publicKey) || toB64(mine.sPk) !== toB64(this.s.publicKey)) {
      throw secaggError(`the key broadcast does not carry ${this.siteId}'s own advertisement unchanged`, 'the aggregator dropped or replaced this site\'s keys');
    }
    const graph = new RoundGraph(this.round, [...this.peers.keys()], this.params);
    this.graph = graph;
    const holders = graph.holdersOf(this.siteId);
    const [sShares, bShares] = await Promise.all([
      split(this.s.secretKey, holders.length, graph.threshold),
      split(this.b, holders.length, graph.threshold),
    ]);
    const shares: SharesMsg['shares'] = [];
    holders.forEach((holder, k) => {
      const pair = { sShare: sShares[k] as Uint8Array, bShare: bShares[k] as Uint8Array };
      if (holder === this.siteId) {
        this.held.set(this.siteId, pair);
        return;
      }
      const peer = this.peers.get(holder) as { cPk: Uint8Array; sPk: Uint8Array };
      const cShared = agree(this.c.secretKey, peer.cPk, holder);
      this.cShared.set(holder, cShared);
      this.maskKeys.set(holder, pairMaskKey(agree(this.s.secretKey, peer.sPk, holder), this.round, this.siteId, holder));
      const plaintext = new Uint8Array(2 * SHARE_BYTES);
      plaintext.set(pair.sShare, 0);
      plaintext.set(pair.bShare, SHARE_BYTES);
      const { nonce, ct } = encryptShare(cShared, this.round, this.siteId, holder, plaintext);
      shares.push({ to: holder, nonce: toB64(nonce), ct: toB64(ct) });
    });
    return signMessage<SharesMsg>({ ...this.header('shares'), bHash: toB64(sha256(this.b)), shares }, this.signingKey);
  }

  /** Round 2: takes the shares addressed to this site and the (clipped, noised) update; returns the masked input. */
  maskedInput(inbox: unknown, update: Float32Array): MaskedMsg {
    const box = parseWire(sharesInboxSchema, inbox, 'shares inbox');
    if (box.round !== this.round || box.to !== this.siteId) {
      throw secaggError(`shares inbox is for ${box.to} in round ${box.round}, not ${this.siteId} in ${this.round}`, undefined, 'to');
    }
    if (update.length !== this.params.vectorLength) {
      throw secaggError(`update has ${update.length} values, the round expects ${this.params.vectorLength}`, 'all sites must send the same model shape');
    }
    this.expect('shared', 'masked', 'maskedInput');
    const graph = this.graph as RoundGraph;
    for (const entry of box.shares) {
      if (!graph.isEdge(this.siteId, entry.from)) throw secaggError(`shares from ${entry.from}, which is not a neighbour of ${this.siteId}`, undefined, 'from');
      if (this.held.has(entry.from)) throw secaggError(`two sets of shares from ${entry.from} (replay)`, undefined, 'from');
      const shared = this.cShared.get(entry.from) as Uint8Array;
      const pt = decryptShare(shared, this.round, entry.from, this.siteId, fromB64(entry.nonce, 'nonce', 12), fromB64(entry.ct, 'ciphertext'));
      if (pt.length !== 2 * SHARE_BYTES) throw secaggError(`shares from ${entry.from} have the wrong length`);
      this.held.set(entry.from, { sShare: pt.slice(0, SHARE_BYTES), bShare: pt.slice(SHARE_BYTES) });
    }
    if (this.held.size < graph.threshold) {
      throw secaggError(`only ${this.held.size - 1} neighbour(s) sent shares; at least ${graph.threshold - 1} are needed`, 'too many sites dropped out; the round must restart');
    }
    const n = this.params.vectorLength;
    const codec = new FixedPointCodec({ fractionalBits: this.params.fractionalBits ?? 16, maxSummands: graph.participants.length });
    const y = codec.encode(update);
    const mask = new Uint32Array(n);
    ringAdd(y, prgWords(selfMaskKey(this.b, this.round, this.siteId), n, mask));
    for (const v of this.held.keys()) {
      if (v === this.siteId) continue;
      prgWords(this.maskKeys.get(v) as Uint8Array, n, mask);
      if (maskSign(this.siteId, v) > 0) ringAdd(y, mask);
      else ringSub(y, mask);
    }
    const data = Buffer.from(y.buffer, y.byteOffset, y.byteLength).toString('base64');
    return signMessage<MaskedMsg>({ ...this.header('masked'), length: n, data }, this.signingKey);
  }

  /** Round 3: reveals what the aggregator needs to remove the masks, refusing anything that would expose an input. */
  unmask(request: unknown): UnmaskMsg {
    const req = parseWire(unmaskRequestSchema, request, 'unmask request');
    if (req.round !== this.round) throw secaggError(`unmask request is for round ${req.round}, not ${this.round}`, undefined, 'round');
    this.expect('masked', 'done', 'unmask');
    const survivors = new Set(req.survivors);
    const dropped = new Set(req.dropped);
    const graph = this.graph as RoundGraph;
    if (survivors.size !== req.survivors.length || dropped.size !== req.dropped.length) throw secaggError('unmask request lists a site twice');
    for (const d of dropped) {
      if (survivors.has(d)) throw secaggError(`unmask request lists ${d} as both survivor and dropped: revealing both shares would expose its update`);
    }
    if (!survivors.has(this.siteId)) throw secaggError(`unmask request does not list ${this.siteId} as a survivor`);
    if (dropped.has(this.siteId)) throw secaggError(`unmask request lists ${this.siteId} as dropped`);
    if (survivors.size < graph.threshold) throw secaggError(`only ${survivors.size} survivors, below the threshold ${graph.threshold}: refusing to unmask`);
    const seedShares: UnmaskMsg['seedShares'] = [];
    const keyShares: UnmaskMsg['keyShares'] = [];
    for (const [of, pair] of this.held) {
      if (survivors.has(of)) seedShares.push({ of, share: toB64(pair.bShare) });
      else if (dropped.has(of)) keyShares.push({ of, share: toB64(pair.sShare) });
    }
    return signMessage<UnmaskMsg>({ ...this.header('unmask'), seedShares, keyShares }, this.signingKey);
  }
}
