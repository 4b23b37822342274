import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../shared/context.js';
import type { CommitWork } from '../shared/domain/batch.js';
import type { RequestView } from '../shared/holds/views.js';
import { publishSeatEvents } from '../shared/seat-events/seat-events.js';
import { announcement } from '../shared/holds/request-waiter.js';
import { requestDoneChannel } from '../shared/queues/names.js';

/**
 * What a committed batch leaves to do, once per batch: one publish of its seat events, one
 * announcement of its finished requests, its expiries scheduled in one command, its payments
 * captured or voided, its buyers out of the waiting room. Every step is idempotent (events carry
 * their sequence, gateway calls are idempotent by authorisation), so redoing the work of a batch
 * whose worker died after its commit does each thing once. Returns false if a step kept failing.
 */
export async function performCommitWork(
  ctx: Context,
  performanceId: number,
  lastSeq: number,
  work: CommitWork,
  /** The decided requests' views, when this process committed the batch (a redo has none). */
  views: RequestView[] = [],
): Promise<boolean> {
  const { redis, queues, payments, waitingRoom, logger } = ctx;
  const retried = async (name: string, step: () => Promise<unknown>): Promise<boolean> => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        await step();
        return true;
      } catch (err) {
        logger.warn({ err, step: name, attempt, performanceId }, 'after-commit step failed');
        if (attempt < 5) await sleep(100 * attempt);
      }
    }
    return false;
  };
  // Seats were taken: the waiting room stops admitting on a possibly stale "open" before any buyer's
  // slot is given away; the admission ticker counts again (MySQL) and reopens within one tick.
  const taken = work.events.some((e) => e.status !== 'available');
  const room: Promise<boolean> =
    taken || work.leave.length
      ? retried('waiting room', async () => {
          if (taken) await waitingRoom.setStock(performanceId, 'none');
          await Promise.all(work.leave.map((m) => waitingRoom.leave(performanceId, m)));
        })
      : Promise.resolve(true);
  const steps: Promise<boolean>[] = [room];
  if (work.events.length)
    steps.push(
      retried('publish seat events', () =>
        publishSeatEvents(redis, ctx.channels, performanceId, work.events),
      ),
    );
  // The applied mark and the announcement go in one step and in this order: a long-poll that still
  // reads a mark below its request's sequence is then sure to hear the news. A buyer hears that its
  // confirm succeeded only once it has left the waiting room, so what it does next (join again)
  // never races its own leave.
  steps.push(
    (work.leave.length ? room : Promise.resolve(true)).then(() =>
      retried('announce', () =>
        queues.finish(
          performanceId,
          lastSeq,
          requestDoneChannel(ctx.channels),
          announcement(performanceId, lastSeq, work.announce, views),
        ),
      ),
    ),
  );
  if (work.expiries.length)
    steps.push(retried('schedule expiries', () => queues.scheduleExpiries(performanceId, work.expiries)));
  for (const a of work.capture) steps.push(retried('capture payment', () => payments.capture(a)));
  for (const a of work.void) steps.push(retried('void payment', () => payments.void(a)));
  return (await Promise.all(steps)).every(Boolean);
}
