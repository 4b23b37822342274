import { QueryTypes } from 'sequelize';
import type { Context } from '../shared/context.js';
import { HoldRequestRepository } from '../shared/db/repositories/hold-request.repository.js';
import { CommitFenceRepository } from '../shared/db/repositories/commit-fence.repository.js';
import { requestJobOf, type RequestJob } from '../shared/queues/jobs.js';
import { SaleControls } from '../shared/sales/sale-controls.service.js';

/**
 * Rebuilds a performance's queue after Redis lost its state (a FLUSHALL, a restart without AOF):
 * global concurrency 1 and the registry entry first, then job ids continue above everything MySQL
 * applied (the ids handed out since the loss become void: MySQL's fence is raised over them), and
 * every accepted, unfinished request is enqueued again in its recorded queue order. Live holds get
 * their expiries back. One process at a time; safe to repeat.
 */
export async function restoreQueue(
  ctx: Context,
  performanceId: number,
): Promise<{ floor: number; requeued: number } | undefined> {
  const { queues, redis, sequelize } = ctx;
  const k = queues.keys(performanceId);
  if (!(await redis.set(k.restoring, String(process.pid), 'PX', 30_000, 'NX'))) return undefined;
  try {
    await queues.register(performanceId);
    // The operator's controls first: a queue whose holds were paused stays paused once refilled.
    await new SaleControls(ctx).applyLatest(performanceId);
    const fences = new CommitFenceRepository(sequelize);
    const floor = await sequelize.transaction(async (transaction) => {
      const fence = (await fences.lock(performanceId, transaction))?.appliedSeq ?? 0;
      const f = await queues.restoreSequence(performanceId, fence);
      if (f > fence) await fences.raise(performanceId, f, transaction);
      return f;
    });
    const rows = new HoldRequestRepository(sequelize);
    const queued = await rows.queued(performanceId);
    const jobs: RequestJob[] = [];
    for (const r of queued) {
      try {
        jobs.push(requestJobOf(r));
      } catch (err) {
        ctx.logger.error({ err, requestId: r.id }, 'a queued request cannot become a job');
      }
    }
    for (let i = 0; i < jobs.length; i += 1000) {
      const chunk = jobs.slice(i, i + 1000);
      const seqs = await queues.enqueueAll(performanceId, chunk);
      await rows.setQueueSeqs(chunk.map((j, n) => [j.requestId, seqs[n]!]));
    }
    const held = await sequelize.query<{ id: number; expiresAt: Date }>(
      "SELECT id, expires_at AS expiresAt FROM holds WHERE performance_id = ? AND status = 'held'",
      { type: QueryTypes.SELECT, replacements: [performanceId] },
    );
    await queues.scheduleExpiries(
      performanceId,
      held.map((h) => [Number(h.id), new Date(h.expiresAt).getTime()]),
    );
    await queues.markRestored(performanceId);
    return { floor, requeued: jobs.length };
  } finally {
    await redis.del(k.restoring);
  }
}
