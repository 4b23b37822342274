import { RateLimitedError } from '../../shared/errors.js';

/**
 * Token buckets in process memory: `perSecond` sustained, bursts up to twice that. Each API process
 * limits on its own, so N processes behind a balancer allow up to N times the rate.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(private readonly perSecond: number) {
    this.burst = Math.max(1, perSecond * 2);
  }

  /** Throws 429 when the key has no token left; a rate of 0 turns the limit off. */
  take(key: string): void {
    if (this.perSecond === 0) return;
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw new RateLimitedError(Math.ceil((1 - b.tokens) / this.perSecond));
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets)
      if (now - b.at > (this.burst / this.perSecond) * 1000) this.buckets.delete(k);
  }
}
