import type { RedisClient } from '../redis.js';
import { requestDoneChannel } from '../queues/names.js';

/**
 * Wakes long-polls when a worker announces that a request is final. One subscriber connection per
 * process; a missed message only costs the caller its fallback re-check.
 */
export class RequestWaiter {
  private readonly waiters = new Map<number, Set<() => void>>();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keyPrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== requestDoneChannel(this.keyPrefix)) return;
      for (const id of message.split(',')) {
        const set = this.waiters.get(Number(id));
        if (set) for (const wake of set) wake();
      }
    });
  }

  /**
   * Starts listening for the request at once (before the caller re-reads its status, so an
   * announcement in between is not missed); `done` resolves when it is announced or after `ms`.
   */
  async arm(requestId: number, ms: number): Promise<{ done: Promise<void>; cancel: () => void }> {
    this.subscribed ??= this.subscriber
      .subscribe(requestDoneChannel(this.keyPrefix))
      .catch((err: unknown) => {
        this.subscribed = undefined;
        throw err;
      });
    await this.subscribed.catch(() => undefined);
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      const set = this.waiters.get(requestId) ?? new Set();
      this.waiters.set(requestId, set);
      finish = () => {
        clearTimeout(timer);
        set.delete(finish);
        if (set.size === 0) this.waiters.delete(requestId);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      set.add(finish);
    });
    return { done, cancel: finish };
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

export async function announceDone(
  redis: RedisClient,
  keyPrefix: string,
  requestIds: number[],
): Promise<void> {
  if (requestIds.length) await redis.publish(requestDoneChannel(keyPrefix), requestIds.join(','));
}
