import type { RedisClient } from '../redis.js';
import { requestDoneChannel } from '../queues/names.js';
import type { RequestView } from './views.js';

/** What a worker announces after a commit: the requests that are final, with their views. */
type Announcement = { ids: number[]; views: RequestView[] };

/**
 * Wakes long-polls when a worker announces that a request is final, handing them the request's
 * view so that they answer without reading MySQL again. One subscriber connection per process; a
 * missed message only costs the caller its fallback re-check.
 */
export class RequestWaiter {
  private readonly waiters = new Map<number, Set<(view: RequestView | undefined) => void>>();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keyPrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== requestDoneChannel(this.keyPrefix) || this.waiters.size === 0) return;
      let a: Announcement;
      try {
        a = JSON.parse(message) as Announcement;
      } catch {
        return;
      }
      const views = new Map(a.views.map((v) => [v.requestId, v]));
      for (const id of a.ids) {
        const set = this.waiters.get(id);
        if (set) for (const wake of set) wake(views.get(id));
      }
    });
  }

  /**
   * Starts listening for the request at once (before the caller re-reads its status, so an
   * announcement in between is not missed); `done` resolves when it is announced (with its view,
   * if the announcement carried one) or with undefined after `ms`.
   */
  async arm(
    requestId: number,
    ms: number,
  ): Promise<{ done: Promise<RequestView | undefined>; cancel: () => void }> {
    this.subscribed ??= this.subscriber
      .subscribe(requestDoneChannel(this.keyPrefix))
      .catch((err: unknown) => {
        this.subscribed = undefined;
        throw err;
      });
    await this.subscribed.catch(() => undefined);
    let finish: (view?: RequestView) => void = () => undefined;
    const done = new Promise<RequestView | undefined>((resolve) => {
      const set = this.waiters.get(requestId) ?? new Set();
      this.waiters.set(requestId, set);
      finish = (view?: RequestView) => {
        clearTimeout(timer);
        set.delete(finish);
        if (set.size === 0) this.waiters.delete(requestId);
        resolve(view);
      };
      const timer = setTimeout(finish, ms);
      set.add(finish);
    });
    return { done, cancel: () => finish() };
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

/** The message that tells long-polls these requests are final, with the views they answer with. */
export function announcement(requestIds: number[], views: RequestView[] = []): string {
  return JSON.stringify({ ids: requestIds, views } satisfies Announcement);
}
