import { Op } from 'sequelize';
import type { Context } from '../shared/context.js';
import { performanceTag } from '../shared/redis.js';
import { Hold, HoldRequest } from '../shared/db/models/index.js';
import type { RequestJob } from '../shared/queues/jobs.js';
import { admissions, onScrape, queueDepth, waitingRoomMembers } from '../shared/metrics.js';

/** Admits waiting members on a timer, so the next member gets in within 2 s whether or not anybody polls. */
export function startAdmissionTicker(ctx: Context): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    ctx.waitingRoom
      .tick()
      .then((n) => n && admissions.inc(n))
      .catch((err: unknown) => ctx.logger.warn({ err }, 'admission tick failed'))
      .finally(() => (running = false));
  }, ctx.config.admissionTickMs);
  return () => clearInterval(timer);
}

/**
 * The backstop for what a crash between two steps could leave behind:
 * - a live hold past its expiry whose expiry job is gone (Redis lost it, a crash before it was added);
 * - an accepted request whose job is gone from Redis (a Redis restart without persistence).
 * Both re-adds are idempotent: MySQL fences every job.
 */
export async function sweep(ctx: Context): Promise<{ expiries: number; requeued: number }> {
  const lockKey = `${ctx.config.keyPrefix}:sweeper-lock`;
  const got = await ctx.redis.set(
    lockKey,
    String(process.pid),
    'PX',
    ctx.config.sweepIntervalSeconds * 1000,
    'NX',
  );
  if (!got) return { expiries: 0, requeued: 0 };
  // Only the performances this deployment (key prefix) serves.
  const performanceId = { [Op.in]: await ctx.queues.registeredPerformanceIds() };
  const overdue = await Hold.findAll({
    where: { performanceId, status: 'held', expiresAt: { [Op.lt]: new Date(Date.now() - 30_000) } },
    order: [['expiresAt', 'ASC']],
    limit: 500,
  });
  for (const hold of overdue) {
    // At most one backstop expiry per hold every five minutes, however long it stays overdue.
    const marker = `${ctx.config.keyPrefix}:${performanceTag(hold.performanceId)}:swept:${hold.id}`;
    if (await ctx.redis.set(marker, '1', 'EX', 300, 'NX'))
      await ctx.queues.addExpiry({ kind: 'expire', performanceId: hold.performanceId, holdId: hold.id }, 0);
  }
  const stale = await HoldRequest.findAll({
    where: {
      performanceId,
      status: 'queued',
      queueSeq: { [Op.ne]: null },
      createdAt: { [Op.lt]: new Date(Date.now() - 60_000) },
    },
    order: [['id', 'ASC']],
    limit: 200,
  });
  let requeued = 0;
  for (const r of stale) {
    const queue = await ctx.queues.get(r.performanceId);
    if (await queue.getJob(String(r.queueSeq))) continue;
    const payload = JSON.parse(r.payload) as Record<string, unknown>;
    const job = {
      ...payload,
      kind: r.kind,
      requestId: r.id,
      performanceId: r.performanceId,
      memberId: r.memberId,
    } as RequestJob;
    const seq = await ctx.queues.addRequest(job);
    await r.update({ queueSeq: seq });
    requeued++;
  }
  if (overdue.length || requeued)
    ctx.logger.info({ expiries: overdue.length, requeued }, 'sweeper re-queued work');
  return { expiries: overdue.length, requeued };
}

export function startSweeper(ctx: Context): () => void {
  const timer = setInterval(() => {
    sweep(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'sweep failed'));
  }, ctx.config.sweepIntervalSeconds * 1000);
  return () => clearInterval(timer);
}

/** Queue depth and waiting-room sizes, read when Prometheus scrapes. */
export function registerWorkerGauges(ctx: Context, performanceIds: () => number[]): () => void {
  const offQueue = onScrape(queueDepth, async () => {
    queueDepth.reset();
    for (const id of performanceIds()) {
      const q = await ctx.queues.get(id);
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, n] of Object.entries(counts))
        queueDepth.set({ performance_id: String(id), state }, n);
    }
  });
  const offRoom = onScrape(waitingRoomMembers, async () => {
    waitingRoomMembers.reset();
    for (const id of await ctx.waitingRoom.activePerformanceIds()) {
      const s = await ctx.waitingRoom.sizes(id);
      waitingRoomMembers.set({ performance_id: String(id), state: 'waiting' }, s.waiting);
      waitingRoomMembers.set({ performance_id: String(id), state: 'admitted' }, s.admitted);
    }
  });
  return () => {
    offQueue();
    offRoom();
  };
}
