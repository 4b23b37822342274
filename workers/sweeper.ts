import { Op, QueryTypes } from 'sequelize';
import type { Context } from '../shared/context.js';
import { performanceTag } from '../shared/redis.js';
import { Hold } from '../shared/db/models/index.js';
import { requestJobOf, type RequestJob } from '../shared/queues/jobs.js';
import { HoldRequestRepository } from '../shared/db/repositories/hold-request.repository.js';
import { CommitFenceRepository } from '../shared/db/repositories/commit-fence.repository.js';
import { paymentAuthorizations } from '../shared/metrics.js';
import { SaleControls } from '../shared/sales/sale-controls.service.js';
import { RequestEnqueuer } from '../shared/holds/request-enqueuer.js';

/**
 * An accepted request with no queue sequence this long after its insert is taken for one whose API
 * process died before its enqueue (a live one enqueues within milliseconds; it marks the add in
 * Redis, so a slow one is only re-added, harmlessly, if it took longer than this).
 */
export const UNENQUEUED_AFTER_MS = 2000;
/** How often workers look for such requests: with the grace, a request is enqueued within ~3 s. */
export const UNENQUEUED_CHECK_MS = 1000;

/**
 * The backstop for what a crash between two steps could leave behind:
 * - a live hold past its expiry whose expiry was never scheduled or got lost with Redis;
 * - an accepted request without a live job: its job is gone (Redis lost it) or was voided by a
 *   restore. (One never added, its API having died between its insert and the enqueue, is
 *   enqueued within seconds by `enqueueUnenqueued`; this catches what that missed.)
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

/**
 * The sale controls' copy in Redis (waiting-room gate, queue pause) again, where Redis lost it or
 * a committed change could not be applied at the time.
 */
async function restoreSaleControls(ctx: Context, ids: number[]): Promise<void> {
  const controls = new SaleControls(ctx);
  const lost: number[] = [];
  for (const id of ids) if (await controls.unapplied(id)) lost.push(id);
  if (lost.length) await controls.applyAll(lost);
}

/**
 * Enqueues the requests accepted a moment ago whose API process died between the insert and the
 * enqueue (their clients got no request id, and may retry with the same key: the retry finds the
 * same request). A request whose job was added is only given its sequence in MySQL; every worker
 * process may run this, and the enqueuer's claim lets one of them add each job.
 */
export async function enqueueUnenqueued(ctx: Context): Promise<number> {
  const ids = await ctx.queues.registeredPerformanceIds();
  const rows = new HoldRequestRepository(ctx.sequelize);
  const stranded = await rows.unsequenced(ids, UNENQUEUED_AFTER_MS, ctx.config.sweepOrphanSeconds * 1000);
  if (!stranded.length) return 0;
  const enqueuer = new RequestEnqueuer(ctx.redis, ctx.config.keyPrefix, ctx.queues, rows);
  let added = 0;
  for (const r of stranded) {
    const seq = await enqueuer.recover(r).catch((err: unknown) => {
      ctx.logger.warn({ err, requestId: r.id }, 'could not enqueue a stranded request');
      return undefined;
    });
    if (seq !== undefined) added++;
  }
  ctx.logger.info({ requests: stranded.length }, 'enqueued requests their API process left unenqueued');
  return added;
}

export function startSweeper(ctx: Context): () => void {
  const timer = setInterval(() => {
    sweep(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'sweep failed'));
  }, ctx.config.sweepIntervalSeconds * 1000);
  let running = false;
  const fast = setInterval(() => {
    if (running) return;
    running = true;
    enqueueUnenqueued(ctx)
      .catch((err: unknown) => ctx.logger.warn({ err }, 'enqueue of stranded requests failed'))
      .finally(() => (running = false));
  }, UNENQUEUED_CHECK_MS);
  return () => {
    clearInterval(timer);
    clearInterval(fast);
  };
}
