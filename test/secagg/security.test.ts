import { describe, expect, it } from 'vitest';
import { SecAggClient } from '../../src/secagg/client.js';
import { FixedPointCodec } from '../../src/secagg/fixedpoint.js';
import { SecAggServer } from '../../src/secagg/server.js';
import type { AdvertiseMsg, MaskedMsg } from '../../src/secagg/messages.js';
import { federation, randomUpdate } from './harness.js';

const LEN = 4096;
const params = { vectorLength: LEN, maxDropouts: 1 };
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Sets up n clients and a server through round 2 and returns a masked message of site-00 plus the actors. */
async function throughMasked(n: number, round = 'r1', update = randomUpdate(LEN)) {
  const fed = federation(n);
  const server = new SecAggServer({ round, roster: fed.roster, params });
  const clients = fed.ids.map((id) => new SecAggClient({ siteId: id, round, signingKey: fed.keys.get(id) as Uint8Array, roster: fed.roster, params }));
  const adverts = clients.map((c) => wire(c.advertise()));
  adverts.forEach((a) => server.receiveAdvertise(a));
  const keys = wire(server.keysBroadcast());
  for (const c of clients) server.receiveShares(wire(await c.shareKeys(keys)));
  server.closeShares();
  const masked = clients.map((c) => wire(c.maskedInput(wire(server.inboxFor(c.siteId)), update)));
  return { fed, server, clients, adverts, keys, masked, update };
}

/**
 * Pearson chi-square statistic of byte frequencies against the uniform distribution (255 degrees of freedom).
 * For uniform bytes its mean is 255 and its standard deviation sqrt(510) ~ 22.6.
 */
function chiSquareBytes(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b] = (counts[b] as number) + 1;
  const expected = bytes.length / 256;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}
// 99.99th percentile of chi-square(255) is ~ 355: a uniform source fails this test about once in 10,000 runs.
const CHI2_CRITICAL = 355;

describe('a single masked update looks uniform', () => {
  it('passes a chi-square test on its bytes, while the same update unmasked fails it', async () => {
    const update = randomUpdate(LEN, 0.5);
    const { masked } = await throughMasked(3, 'r1', update);
    const m = masked[0] as MaskedMsg;
    const maskedBytes = new Uint8Array(Buffer.from(m.data, 'base64'));
    expect(maskedBytes.length).toBe(LEN * 4);
    const chiMasked = chiSquareBytes(maskedBytes);
    expect(chiMasked).toBeLessThan(CHI2_CRITICAL);

    const plain = new FixedPointCodec({ maxSummands: 3 }).encode(update);
    const chiPlain = chiSquareBytes(new Uint8Array(plain.buffer));
    expect(chiPlain).toBeGreaterThan(CHI2_CRITICAL);
  });
});

describe('authentication and replay protection', () => {
  it('rejects an advertisement whose key was altered in transit', async () => {
    const fed = federation(3);
    const server = new SecAggServer({ round: 'r1', roster: fed.roster, params });
    const c = new SecAggClient({ siteId: fed.ids[0] as string, round: 'r1', signingKey: fed.keys.get(fed.ids[0] as string) as Uint8Array, roster: fed.roster, params });
    const adv = wire(c.advertise());
    const other = wire(new SecAggClient({ siteId: fed.ids[1] as string, round: 'r1', signingKey: fed.keys.get(fed.ids[1] as string) as Uint8Array, roster: fed.roster, params }).advertise());
    const tampered: AdvertiseMsg = { ...adv, sPk: other.sPk };
    expect(() => server.receiveAdvertise(tampered)).toThrow(/bad signature on the advertise message from site-00/);
    // The genuine message is still accepted after the forged one (a forgery cannot lock a site out).
    server.receiveAdvertise(adv);
  });

  it('rejects a message signed by another site’s key, or from a site outside the roster', async () => {
    const fed = federation(3);
    const outsider = federation(1);
    const server = new SecAggServer({ round: 'r1', roster: fed.roster, params });
    const impostor = new SecAggClient({ siteId: 'site-00', round: 'r1', signingKey: outsider.keys.get('site-00') as Uint8Array, roster: new Map([['site-00', outsider.roster.get('site-00') as Uint8Array]]), params });
    expect(() => server.receiveAdvertise(wire(impostor.advertise()))).toThrow(/bad signature/);
    const stranger = new SecAggClient({ siteId: 'site-00', round: 'r1', signingKey: outsider.keys.get('site-00') as Uint8Array, roster: outsider.roster, params });
    const msg = { ...wire(stranger.advertise()), sender: 'site-99' };
    expect(() => server.receiveAdvertise(msg)).toThrow(/not in the round's roster/);
  });

  it('rejects a tampered masked input', async () => {
    const { server, masked } = await throughMasked(4);
    const m = masked[1] as MaskedMsg;
    const bytes = Buffer.from(m.data, 'base64');
    bytes[7] = (bytes[7] as number) ^ 1;
    expect(() => server.receiveMasked({ ...m, data: bytes.toString('base64') })).toThrow(/bad signature on the masked message/);
    server.receiveMasked(m);
  });

  it('rejects a replayed message in the same round and a message replayed from an earlier round', async () => {
    const { server, masked, adverts, fed } = await throughMasked(4);
    server.receiveMasked(masked[0]);
    expect(() => server.receiveMasked(masked[0])).toThrow(/duplicate masked message from site-00 in round r1 \(replay\)/);

    const next = new SecAggServer({ round: 'r2', roster: fed.roster, params });
    expect(() => next.receiveAdvertise(adverts[0])).toThrow(/for round r1, not the current round r2/);
  });

  it('a client refuses a key broadcast in which the aggregator swapped a site’s keys', async () => {
    const fed = federation(3);
    const clients = fed.ids.map((id) => new SecAggClient({ siteId: id, round: 'r1', signingKey: fed.keys.get(id) as Uint8Array, roster: fed.roster, params }));
    const adverts = clients.map((c) => wire(c.advertise()));
    const swapped = { ...(adverts[2] as AdvertiseMsg), sPk: (adverts[1] as AdvertiseMsg).sPk };
    const keys = { v: 1, type: 'keys', round: 'r1', advertisements: [adverts[0], adverts[1], swapped] };
    await expect((clients[0] as SecAggClient).shareKeys(keys)).rejects.toThrow(/bad signature on the advertise message from site-02/);
  });

  it('a client refuses to reveal both shares of one site', async () => {
    const { server, clients, masked } = await throughMasked(5);
    masked.forEach((m) => server.receiveMasked(m));
    const req = wire(server.unmaskRequest());
    const evil = { ...req, dropped: ['site-01'] }; // site-01 is also a survivor
    expect(() => (clients[0] as SecAggClient).unmask(evil)).toThrow(/both survivor and dropped/);
  });

  it('rejects wire messages of another version or with unknown fields', async () => {
    const fed = federation(2);
    const server = new SecAggServer({ round: 'r1', roster: fed.roster, params });
    const c = new SecAggClient({ siteId: 'site-00', round: 'r1', signingKey: fed.keys.get('site-00') as Uint8Array, roster: fed.roster, params });
    const adv = wire(c.advertise());
    expect(() => server.receiveAdvertise({ ...adv, v: 2 })).toThrow(/invalid advertisement: v/);
    expect(() => server.receiveAdvertise({ ...adv, extra: 1 })).toThrow(/invalid advertisement/);
  });
});
