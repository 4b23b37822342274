import { Op, QueryTypes } from 'sequelize';
import type { Context } from '../shared/context.js';
import { performanceTag } from '../shared/redis.js';
import { Hold } from '../shared/db/models/index.js';
import { requestJobOf, type RequestJob } from '../shared/queues/jobs.js';
import { HoldRequestRepository } from '../shared/db/repositories/hold-request.repository.js';
import { CommitFenceRepository } from '../shared/db/repositories/commit-fence.repository.js';
import { paymentAuthorizations } from '../shared/metrics.js';
import { SaleControls } from '../shared/sales/sale-controls.service.js';

/**
 * The backstop for what a crash between two steps could leave behind:
 * - a live hold past its expiry whose expiry was never scheduled or got lost with Redis;
 * - an accepted request without a live job: its job is gone (Redis lost it), was voided by a
 *   restore, or was never added (the API died between its insert and the enqueue; such a request
 *   was never answered as accepted, and joins the back of the line here).
 * Both re-adds are idempotent: MySQL fences every job.
 */
export async function sweep(ctx: Context): Promise<{ expiries: number; requeued: number; voided: number }> {
  const lockKey = `${ctx.config.keyPrefix}:sweeper-lock`;
  const got = await ctx.redis.set(
    lockKey,
    String(process.pid),
    'PX',
    ctx.config.sweepIntervalSeconds * 1000,
    'NX',
  );
  if (!got) return { expiries: 0, requeued: 0, voided: 0 };
  // Only the performances this deployment (key prefix) serves.
  const ids = await ctx.queues.registeredPerformanceIds();
  const overdue = await Hold.findAll({
    where: {
      performanceId: { [Op.in]: ids },
      status: 'held',
      expiresAt: { [Op.lt]: new Date(Date.now() - 30_000) },
    },
    order: [['expiresAt', 'ASC']],
    limit: 500,
  });
  let expiries = 0;
  for (const hold of overdue) {
    // At most one backstop expiry per hold every five minutes, however long it stays overdue.
    const marker = `${ctx.config.keyPrefix}:${performanceTag(hold.performanceId)}:swept:${hold.id}`;
    if (!(await ctx.redis.set(marker, '1', 'EX', 300, 'NX'))) continue;
    await ctx.queues.scheduleExpiries(hold.performanceId, [[hold.id, Date.now()]]);
    expiries++;
  }
  const rows = new HoldRequestRepository(ctx.sequelize);
  const fences = new CommitFenceRepository(ctx.sequelize);
  let requeued = 0;
  for (const performanceId of ids) {
    const stale = await rows.queued(performanceId, ctx.config.sweepOrphanSeconds * 1000, 200);
    if (!stale.length) continue;
    const queue = await ctx.queues.get(performanceId);
    const fence = (await fences.read(performanceId)).appliedSeq;
    const orphans: RequestJob[] = [];
    for (const r of stale) {
      const seq = r.queueSeq;
      const live = seq != null && seq > fence && (await queue.getJob(String(seq))) !== undefined;
      if (!live) orphans.push(requestJobOf(r));
    }
    const seqs = await ctx.queues.enqueueAll(performanceId, orphans);
    await rows.setQueueSeqs(orphans.map((j, i) => [j.requestId, seqs[i]!]));
    requeued += orphans.length;
  }
  const voided = await voidOrphanPayments(ctx, ids);
  await restoreSaleControls(ctx, ids);
  if (expiries || requeued || voided)
    ctx.logger.info({ expiries, requeued, voided }, 'sweeper re-queued work');
  return { expiries, requeued, voided };
}

/**
 * An authorisation still `authorized` well after its confirm should have been applied, with no
 * accepted confirm carrying it, will never be captured (its API process died between the payment
 * row and the enqueue, or could not void it): void it. The worker settles a payment only in the
 * transaction that applies a queued confirm of it, and reads the row under lock, so a payment
 * voided here is never captured.
 */
async function voidOrphanPayments(ctx: Context, performanceIds: number[]): Promise<number> {
  if (!performanceIds.length) return 0;
  const rows = await ctx.sequelize.query<{ authorizationId: string }>(
    `SELECT p.authorization_id AS authorizationId FROM payments p JOIN holds h ON h.id = p.hold_id
      WHERE p.status = 'authorized' AND p.created_at < NOW(3) - INTERVAL ? SECOND
        AND h.performance_id IN (?)
        AND NOT EXISTS (SELECT 1 FROM hold_requests r
                         WHERE r.hold_id = p.hold_id AND r.kind = 'confirm' AND r.status = 'queued'
                           AND r.payload LIKE CONCAT('%"', p.authorization_id, '"%'))
      ORDER BY p.created_at LIMIT 200`,
    { type: QueryTypes.SELECT, replacements: [ctx.config.paymentOrphanSeconds, performanceIds] },
  );
  let voided = 0;
  for (const { authorizationId } of rows) {
    const [, meta] = (await ctx.sequelize.query(
      `UPDATE payments SET status = 'voided', updated_at = NOW(3)
        WHERE authorization_id = ? AND status = 'authorized'`,
      { replacements: [authorizationId] },
    )) as [unknown, { affectedRows?: number }];
    // The row first: once it says voided no worker captures it; then the provider.
    if ((meta?.affectedRows ?? 0) === 0) continue;
    await ctx.payments.void(authorizationId);
    paymentAuthorizations.inc({ outcome: 'voided' });
    voided++;
  }
  return voided;
}

/** The sale controls' copy in Redis (waiting-room gate, queue pause) again, where Redis lost it. */
async function restoreSaleControls(ctx: Context, ids: number[]): Promise<void> {
  const lost: number[] = [];
  for (const id of ids) if (!(await ctx.redis.exists(ctx.waitingRoom.keys(id).gate))) lost.push(id);
  if (lost.length) await new SaleControls(ctx).applyAll(lost);
}

export function startSweeper(ctx: Context): () => void {
  const timer = setInterval(() => {
    sweep(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'sweep failed'));
  }, ctx.config.sweepIntervalSeconds * 1000);
  return () => clearInterval(timer);
}
