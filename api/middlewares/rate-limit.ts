import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../../shared/redis.js';
import { RateLimitedError } from '../../shared/errors.js';

/**
 * A limit shared by every API process (rate-limiter-flexible over Redis): `points` per
 * `durationSeconds` window per key. While Redis is unreachable each process falls back to the same
 * limit in its own memory. Points of 0 turn the limit off.
 */
export class RateLimiter {
  private readonly limiter: RateLimiterRedis | RateLimiterMemory | undefined;

  constructor(
    redis: RedisClient | undefined,
    keyPrefix: string,
    name: string,
    points: number,
    durationSeconds: number,
    blockSeconds = 0,
  ) {
    if (points <= 0) return;
    const opts = { points, duration: durationSeconds, blockDuration: blockSeconds };
    if (!redis) {
      this.limiter = new RateLimiterMemory(opts);
      return;
    }
    this.limiter = new RateLimiterRedis({
      ...opts,
      storeClient: redis,
      keyPrefix: `${keyPrefix}:rl:${name}`,
      insuranceLimiter: new RateLimiterMemory(opts),
    });
  }

  /** `perSecond` sustained, bursts up to twice that (a window of two seconds). */
  static perSecond(redis: RedisClient, keyPrefix: string, name: string, perSecond: number): RateLimiter {
    return new RateLimiter(redis, keyPrefix, name, perSecond * 2, 2);
  }

  /**
   * The same limit kept in this process's memory only: no Redis round trip, and with P API
   * processes behind a balancer a client may get up to P times the rate.
   */
  static local(perSecond: number): RateLimiter {
    return new RateLimiter(undefined, '', 'local', perSecond * 2, 2);
  }

  /** Counts one request for the key; throws 429 with Retry-After past the limit. */
  async take(key: string, points = 1): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes)
        throw new RateLimitedError(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      throw err;
    }
  }

  /** Throws 429 if the key is over its limit now, without counting anything. */
  async check(key: string): Promise<void> {
    if (!this.limiter) return;
    const res = await this.limiter.get(key).catch(() => null);
    if (res && res.consumedPoints >= this.limiter.points)
      throw new RateLimitedError(Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
  }

  async forget(key: string): Promise<void> {
    await this.limiter?.delete(key).catch(() => undefined);
  }
}
