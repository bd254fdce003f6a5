import type { Redis } from 'ioredis';

/**
 * Records which (site, task, round) updates were submitted, so a retried, stalled or duplicated training job never
 * submits a second update. Three states per key: absent, `claim:<token>` (an attempt is submitting right now,
 * expires after a TTL in case that worker dies mid-submit) and `done`.
 *
 * Exactly-once needs the receiver's help in one window: a worker killed after the aggregator accepted the update
 * but before `markDone` leaves a claim that expires, and a retry re-submits. Aggregators must therefore also
 * dedupe on (site, task, round) — the update carries all three.
 */
export interface SubmissionStore {
  /** `claimed`: go ahead and submit; `done`: already submitted; `busy`: another attempt holds the claim. */
  claim(key: string, token: string, ttlMs: number): Promise<'claimed' | 'done' | 'busy'>;
  isDone(key: string): Promise<boolean>;
  /** Gives the claim back (the submit failed and will be retried). Only the holder's token releases it. */
  release(key: string, token: string): Promise<void>;
  markDone(key: string, token: string): Promise<void>;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const MARK_DONE = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == false then
  if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2]) else redis.call('SET', KEYS[1], 'done') end
  return 1
end
return 0`;

export class RedisSubmissionStore implements SubmissionStore {
  /**
   * @param doneTtlMs how long a `done` marker is kept; rounds older than this could be re-submitted.
   *   @defaultValue 30 days. 0 keeps markers forever.
   */
  constructor(
    private readonly redis: Redis,
    private readonly doneTtlMs = 30 * 24 * 3600 * 1000,
  ) {}

  async claim(key: string, token: string, ttlMs: number): Promise<'claimed' | 'done' | 'busy'> {
    const ok = await this.redis.set(key, `claim:${token}`, 'PX', ttlMs, 'NX');
    if (ok === 'OK') return 'claimed';
    return (await this.redis.get(key)) === 'done' ? 'done' : 'busy';
  }

  async isDone(key: string): Promise<boolean> {
    return (await this.redis.get(key)) === 'done';
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, key, `claim:${token}`);
  }

  async markDone(key: string, token: string): Promise<void> {
    await this.redis.eval(MARK_DONE, 1, key, `claim:${token}`, String(this.doneTtlMs));
  }
}
