import type { RedisClient } from '../redis.js';
import { requestDoneChannel } from '../queues/names.js';
import type { RequestView } from './views.js';

const RECENT_VIEWS = 20_000;
const RECENT_MS = 1000;

/** What a worker announces after a commit: the requests that are final, with their views. */
type Announcement = { performanceId?: number; lastSeq?: number; ids: number[]; views: RequestView[] };

/**
 * Wakes long-polls when a worker announces that a request is final, handing them the request's
 * view so that they answer without reading MySQL again. One subscriber connection per process; a
 * missed message only costs the caller its fallback re-check.
 */
export class RequestWaiter {
  private readonly waiters = new Map<number, Set<(view: RequestView | undefined) => void>>();
  /** The final views announced lately (a poll that comes after the news answers from here). */
  private readonly recent = new Map<number, { view: RequestView; at: number }>();
  /** holdId -> requests whose remembered views show that hold. */
  private readonly byHold = new Map<number, Set<number>>();
  /** The highest queue sequence announced as committed, per performance. */
  private readonly marks = new Map<number, number>();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keyPrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== requestDoneChannel(this.keyPrefix)) return;
      let a: Announcement;
      try {
        a = JSON.parse(message) as Announcement;
      } catch {
        return;
      }
      if (a.performanceId !== undefined && a.lastSeq !== undefined)
        this.marks.set(a.performanceId, Math.max(a.lastSeq, this.marks.get(a.performanceId) ?? 0));
      const views = new Map(a.views.map((v) => [v.requestId, v]));
      for (const v of a.views) this.remember(v);
      for (const id of a.ids) {
        const set = this.waiters.get(id);
        if (set) for (const wake of set) wake(views.get(id));
      }
    });
  }

  /**
   * Remembers a final view for a second (long enough for the poll that follows a POST). A later
   * announcement about the same hold (a quick release or confirm) updates the hold it shows, so a
   * remembered view is never older than the news this process heard.
   */
  private remember(v: RequestView): void {
    const now = Date.now();
    this.recent.delete(v.requestId);
    this.recent.set(v.requestId, { view: v, at: now });
    if (v.hold) {
      const ids = this.byHold.get(v.hold.id) ?? new Set<number>();
      this.byHold.set(v.hold.id, ids);
      for (const id of ids) {
        const other = this.recent.get(id);
        if (other?.view.hold) other.view = { ...other.view, hold: v.hold };
      }
      ids.add(v.requestId);
    }
    while (this.recent.size > RECENT_VIEWS) {
      const [oldest, entry] = this.recent.entries().next().value!;
      this.recent.delete(oldest);
      if (entry.view.hold) this.byHold.get(entry.view.hold.id)?.delete(oldest);
      if (entry.view.hold && this.byHold.get(entry.view.hold.id)?.size === 0)
        this.byHold.delete(entry.view.hold.id);
    }
  }

  /** The final view of a request announced within the last second, if this process heard it. */
  announced(requestId: number): RequestView | undefined {
    const e = this.recent.get(requestId);
    return e && Date.now() - e.at < RECENT_MS ? e.view : undefined;
  }

  /** True if this process heard that the batch holding this queue sequence committed. */
  heardCommitted(performanceId: number, seq: number): boolean {
    return seq <= (this.marks.get(performanceId) ?? 0);
  }

  /** Subscribes now, so that announcements are heard (and remembered) from the start. */
  async listen(): Promise<void> {
    this.subscribed ??= this.subscriber
      .subscribe(requestDoneChannel(this.keyPrefix))
      .catch((err: unknown) => {
        this.subscribed = undefined;
        throw err;
      });
    await this.subscribed;
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
    await this.listen().catch(() => undefined);
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
export function announcement(
  performanceId: number,
  lastSeq: number,
  requestIds: number[],
  views: RequestView[] = [],
): string {
  return JSON.stringify({ performanceId, lastSeq, ids: requestIds, views } satisfies Announcement);
}
