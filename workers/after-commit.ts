import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../shared/context.js';
import type { CommitWork } from '../shared/db/repositories/seat-commit.repository.js';
import { publishSeatEvents } from '../shared/seat-events/seat-events.js';
import { announcement } from '../shared/holds/request-waiter.js';
import { requestDoneChannel } from '../shared/queues/names.js';
import { SeatStockRepository } from '../shared/db/repositories/seat-stock.repository.js';

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
): Promise<boolean> {
  const { redis, config, queues, payments, waitingRoom, logger } = ctx;
  const steps: [string, () => Promise<unknown>][] = [];
  if (work.events.length)
    steps.push([
      'publish seat events',
      () => publishSeatEvents(redis, config.keyPrefix, performanceId, work.events),
    ]);
  // The applied mark and the announcement go in one step and in this order: a long-poll that still
  // reads a mark below its request's sequence is then sure to hear the news.
  steps.push([
    'announce',
    () =>
      queues.finish(
        performanceId,
        lastSeq,
        requestDoneChannel(config.keyPrefix),
        work.announce.length ? announcement(work.announce, work.views) : '',
      ),
  ]);
  if (work.expiries.length)
    steps.push(['schedule expiries', () => queues.scheduleExpiries(performanceId, work.expiries)]);
  for (const a of work.capture) steps.push(['capture payment', () => payments.capture(a)]);
  for (const a of work.void) steps.push(['void payment', () => payments.void(a)]);
  // Seats changed: the waiting room learns what is left to sell before any buyer's slot is given away,
  // so nobody is admitted to a sale whose last seats this batch held or sold.
  if (work.events.length || work.leave.length)
    steps.push([
      'waiting room',
      async () => {
        if (work.events.length) {
          const states = await new SeatStockRepository(ctx.sequelize).states([performanceId]);
          await waitingRoom.setStock(performanceId, states.get(performanceId)!);
        }
        await Promise.all(work.leave.map((m) => waitingRoom.leave(performanceId, m)));
      },
    ]);
  const results = await Promise.all(
    steps.map(async ([name, step]) => {
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
    }),
  );
  return results.every(Boolean);
}
