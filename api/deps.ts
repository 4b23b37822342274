import type { Context } from '../shared/context.js';
import type { SeatRequests } from '../shared/holds/requests.service.js';
import type { SeatEventHub } from '../shared/seat-events/seat-events.js';
import type { RequestHandler } from 'express';
import type { RateLimiter } from './middlewares/rate-limit.js';
import type { WaitSlots } from './middlewares/wait-cap.js';
import type { LineView } from '../shared/waiting-room/line-view.js';

/** What route modules are given: the shared context plus the API's own per-process services. */
export type ApiDeps = {
  ctx: Context;
  requests: SeatRequests;
  hub: SeatEventHub;
  member: RequestHandler;
  /** The member check of the waiting line's status reads: its rate limit kept in this process. */
  lineReader: RequestHandler;
  /** This process's view of the waiting rooms (answers far-back members without Redis). */
  line: LineView;
  /** Sign-up and login limits: per client address and per account (email). */
  credentials: { client: RateLimiter; account: RateLimiter };
  /** Open waits per member in this process (long-polls, `Prefer: wait`): capped. */
  waits: WaitSlots;
  /** Ensures the performance exists and the member is admitted (and records the activity). */
  admitted: (performanceId: number, memberId: number) => Promise<void>;
};
