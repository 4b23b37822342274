import type { Request, RequestHandler } from 'express';
import { TooManyWaitsError } from '../../shared/errors.js';
import { who } from './auth.js';

/**
 * Open waits (GET /api/requests/:id?waitSeconds, `Prefer: wait` on the accept routes, the waiting
 * room's ?waitSeconds) a member may have at once in one API process; one more is 429 with
 * Retry-After. A wait holds a socket and its timers for up to 30 s, so without a cap one member
 * could hold thousands, rate limits or not. A client needs one or two; eight leaves room for tabs.
 */
export const MAX_OPEN_WAITS_PER_MEMBER = 8;

/** This process's count of open waits per member. */
export class WaitSlots {
  private readonly open = new Map<number, number>();

  constructor(readonly perMember = MAX_OPEN_WAITS_PER_MEMBER) {}

  /** Takes a slot for the member, or throws 429; returns its release (safe to call twice). */
  take(memberId: number): () => void {
    const n = this.open.get(memberId) ?? 0;
    if (n >= this.perMember)
      throw new TooManyWaitsError(
        `At most ${this.perMember} waits per member at once; wait for one to answer, or poll without waiting.`,
      );
    this.open.set(memberId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(memberId) ?? 1) - 1;
      if (left > 0) this.open.set(memberId, left);
      else this.open.delete(memberId);
    };
  }

  /** Waits the member has open in this process. */
  count(memberId: number): number {
    return this.open.get(memberId) ?? 0;
  }
}

/**
 * Counts the request against the member's open waits when `waits(req)` says it will wait; the slot
 * is given back when the response ends or its client goes away. Runs after the member check.
 */
export function capWaits(slots: WaitSlots, waits: (req: Request) => boolean): RequestHandler {
  return (req, res, next) => {
    if (!waits(req)) return next();
    const release = slots.take(who(req).memberId);
    res.once('close', release);
    next();
  };
}

/** A wait asked for in the query (`?waitSeconds=N`, N > 0). */
export const waitsInQuery = (req: Request): boolean => Number(req.query['waitSeconds']) > 0;
