import { randomBytes } from 'node:crypto';
import { Op, QueryTypes, type Transaction } from 'sequelize';
import type { Context } from '../../shared/context.js';
import { Hold, HoldRequest, HoldSeat, Payment, Seat, Ticket } from '../../shared/db/models/index.js';
import type { SeatStatus } from '../../shared/db/models/index.js';
import {
  decideConfirm,
  decideHold,
  decideRelease,
  holdExpiry,
  shouldExpire,
  type RejectReason,
} from '../../shared/domain/holds.js';
import type { ConfirmJob, ExpireJob, HoldJob, ReleaseJob, SeatJob } from '../../shared/queues/jobs.js';
import { appendSeatEvents, type SeatChange } from '../../shared/seat-events/seat-events.js';

/** What a committed job leaves for the after-commit steps (events, notifications, payments). */
export type Outcome = {
  kind: SeatJob['kind'];
  outcome: 'succeeded' | RejectReason | 'skipped' | 'duplicate';
  requestId?: number;
  holdId?: number;
  events: SeatChange[];
  /** A hold that committed: its expiry job must exist. */
  expiry?: { holdId: number; at: Date };
  capture?: string;
  void?: string;
  /** The member finished buying and leaves the waiting room's admitted set. */
  finished?: { performanceId: number; memberId: number };
};

async function lockRequest(requestId: number, transaction: Transaction): Promise<HoldRequest | null> {
  return HoldRequest.findByPk(requestId, { lock: transaction.LOCK.UPDATE, transaction });
}

async function reject(request: HoldRequest, reason: RejectReason, transaction: Transaction) {
  await request.update({ status: 'rejected', reason, processedAt: new Date() }, { transaction });
}

/** DATETIME(3) literal in UTC: raw replacements of a Date would lose the milliseconds. */
function sqlTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

async function processHold(ctx: Context, job: HoldJob, transaction: Transaction): Promise<Outcome> {
  const base = { kind: 'hold' as const, requestId: job.requestId, events: [] };
  const sequelize = ctx.sequelize;
  // Every read in one round trip: lock the request (the fence), lock the seats, count the member's
  // seats. (Starting with SET makes Sequelize return every result set.)
  const [sets] = (await sequelize.query(
    `SET @fence = NULL;
     SELECT status, hold_id AS holdId FROM hold_requests WHERE id = :requestId FOR UPDATE;
     SELECT id, status FROM seats WHERE performance_id = :performanceId AND id IN (:seatIds) FOR UPDATE;
     SELECT COUNT(*) AS n FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id
      WHERE h.member_id = :memberId AND h.performance_id = :performanceId AND h.status IN ('held', 'confirmed');`,
    { replacements: job, type: QueryTypes.RAW, transaction },
  )) as unknown as [unknown[]];
  const [request] = sets[1] as { status: string; holdId: number | null }[];
  const seats = sets[2] as { id: number; status: SeatStatus }[];
  const already = Number((sets[3] as { n: number }[])[0]?.n ?? 0);
  if (!request) return { ...base, outcome: 'skipped' };
  if (request.status !== 'queued') {
    // The fence: this request was applied already (the job ran twice). Make sure its expiry exists.
    const hold = request.holdId ? await Hold.findByPk(request.holdId, { transaction }) : null;
    return {
      ...base,
      outcome: 'duplicate',
      holdId: hold?.id,
      expiry: hold?.status === 'held' ? { holdId: hold.id, at: hold.expiresAt } : undefined,
    };
  }
  const decision = decideHold(seats, job.seatIds.length, already, ctx.config.maxSeatsPerMember);
  const now = new Date();
  if (!decision.ok) {
    await sequelize.query('UPDATE hold_requests SET status = ?, reason = ?, processed_at = ? WHERE id = ?', {
      replacements: ['rejected', decision.reason, sqlTime(now), job.requestId],
      transaction,
    });
    return { ...base, outcome: decision.reason };
  }
  // Every write of a hold in one round trip: the hold, its live seats, the seats, the seat events
  // (numbered from the performance's sequence) and the request's outcome.
  const expiresAt = holdExpiry(now, ctx.config.holdTtlSeconds);
  const n = job.seatIds.length;
  // (Starting with SET also makes Sequelize return every result set instead of treating it as an INSERT.)
  const [results] = (await sequelize.query(
    `SET @hold = NULL, @seq = NULL;
     INSERT INTO holds (performance_id, member_id, request_id, status, expires_at, created_at, updated_at)
       VALUES (:performanceId, :memberId, :requestId, 'held', :expiresAt, :now, :now);
     SET @hold = LAST_INSERT_ID();
     INSERT INTO hold_seats (hold_id, seat_id, live_seat_id) VALUES ${job.seatIds.map((_, i) => `(@hold, :s${i}, :s${i})`).join(', ')};
     UPDATE seats SET status = 'held', hold_id = @hold WHERE id IN (:seatIds);
     UPDATE performances SET event_seq = LAST_INSERT_ID(event_seq + :n) WHERE id = :performanceId;
     SET @seq = LAST_INSERT_ID() - :n;
     INSERT INTO seat_events (performance_id, seq, seat_id, status, created_at) VALUES
       ${job.seatIds.map((_, i) => `(:performanceId, @seq + ${i + 1}, :s${i}, 'held', :now)`).join(', ')};
     UPDATE hold_requests SET status = 'succeeded', hold_id = @hold, processed_at = :now WHERE id = :requestId;
     SELECT @hold AS holdId, @seq AS seq;`,
    {
      replacements: {
        ...job,
        ...Object.fromEntries(job.seatIds.map((id, i) => [`s${i}`, id])),
        n,
        now: sqlTime(now),
        expiresAt: sqlTime(expiresAt),
      },
      type: QueryTypes.RAW,
      transaction,
    },
  )) as unknown as [unknown[]];
  const ids = (results[results.length - 1] as { holdId: number; seq: number }[])[0]!;
  const holdId = Number(ids.holdId);
  const events = job.seatIds.map((seatId, i) => ({
    seq: Number(ids.seq) + i + 1,
    seatId,
    status: 'held' as const,
  }));
  return { ...base, outcome: 'succeeded', holdId, events, expiry: { holdId, at: expiresAt } };
}

/** Ends a live hold: its seats become available again and leave the live-hold unique key. */
async function endHold(
  hold: Hold,
  status: 'released' | 'expired',
  transaction: Transaction,
): Promise<SeatChange[]> {
  await hold.update({ status }, { transaction });
  const seats = await HoldSeat.findAll({ where: { holdId: hold.id }, transaction });
  await HoldSeat.update({ liveSeatId: null }, { where: { holdId: hold.id }, transaction });
  const seatIds = seats.map((s) => s.seatId);
  await Seat.update(
    { status: 'available', holdId: null },
    { where: { id: { [Op.in]: seatIds } }, transaction },
  );
  return appendSeatEvents(
    hold.performanceId,
    seatIds.map((seatId) => ({ seatId, status: 'available' as const })),
    transaction,
  );
}

async function processRelease(_ctx: Context, job: ReleaseJob, transaction: Transaction): Promise<Outcome> {
  const base = { kind: 'release' as const, requestId: job.requestId, holdId: job.holdId, events: [] };
  const request = await lockRequest(job.requestId, transaction);
  if (!request) return { ...base, outcome: 'skipped' };
  if (request.status !== 'queued') return { ...base, outcome: 'duplicate' };
  const hold = await Hold.findByPk(job.holdId, { lock: transaction.LOCK.UPDATE, transaction });
  const decision = decideRelease(hold, job.memberId);
  if (!decision.ok || !hold) {
    await reject(request, decision.ok ? 'hold-not-found' : decision.reason, transaction);
    return { ...base, outcome: decision.ok ? 'hold-not-found' : decision.reason };
  }
  const events = await endHold(hold, 'released', transaction);
  await request.update({ status: 'succeeded', processedAt: new Date() }, { transaction });
  return { ...base, outcome: 'succeeded', events };
}

function serial(): string {
  // 20 characters of Crockford base32 (100 bits): unguessable, unique by key.
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const bytes = randomBytes(20);
  return Array.from(bytes, (b) => alphabet[b % 32]).join('');
}

async function processConfirm(_ctx: Context, job: ConfirmJob, transaction: Transaction): Promise<Outcome> {
  const base = { kind: 'confirm' as const, requestId: job.requestId, holdId: job.holdId, events: [] };
  const request = await lockRequest(job.requestId, transaction);
  if (!request) return { ...base, outcome: 'skipped', void: job.authorizationId };
  if (request.status !== 'queued') return { ...base, outcome: 'duplicate' };
  const payment = await Payment.findOne({
    where: { authorizationId: job.authorizationId },
    lock: transaction.LOCK.UPDATE,
    transaction,
  });
  const hold = await Hold.findByPk(job.holdId, { lock: transaction.LOCK.UPDATE, transaction });
  const decision = decideConfirm(hold, job.memberId, request.createdAt);
  if (!decision.ok || !hold || !payment || payment.status !== 'authorized') {
    const reason = decision.ok ? 'hold-not-found' : decision.reason;
    await reject(request, reason, transaction);
    if (payment?.status === 'authorized') await payment.update({ status: 'voided' }, { transaction });
    return { ...base, outcome: reason, void: job.authorizationId };
  }
  await hold.update({ status: 'confirmed' }, { transaction });
  const rows = await HoldRequest.sequelize!.query<{ seatId: number; price: number }>(
    `SELECT hs.seat_id AS seatId, g.price FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id
       JOIN seat_grades g ON g.id = s.grade_id WHERE hs.hold_id = ? ORDER BY hs.seat_id`,
    { type: QueryTypes.SELECT, replacements: [hold.id], transaction },
  );
  const seatIds = rows.map((r) => Number(r.seatId));
  await Seat.update({ status: 'sold' }, { where: { id: { [Op.in]: seatIds } }, transaction });
  await Ticket.bulkCreate(
    rows.map((r) => ({
      serial: serial(),
      holdId: hold.id,
      memberId: hold.memberId,
      performanceId: hold.performanceId,
      seatId: Number(r.seatId),
      price: Number(r.price),
    })),
    { transaction },
  );
  await payment.update({ status: 'captured' }, { transaction });
  const events = await appendSeatEvents(
    hold.performanceId,
    seatIds.map((seatId) => ({ seatId, status: 'sold' as const })),
    transaction,
  );
  await request.update({ status: 'succeeded', processedAt: new Date() }, { transaction });
  return {
    ...base,
    outcome: 'succeeded',
    events,
    capture: job.authorizationId,
    finished: { performanceId: hold.performanceId, memberId: hold.memberId },
  };
}

async function processExpire(_ctx: Context, job: ExpireJob, transaction: Transaction): Promise<Outcome> {
  const base = { kind: 'expire' as const, holdId: job.holdId, events: [] };
  const hold = await Hold.findByPk(job.holdId, { lock: transaction.LOCK.UPDATE, transaction });
  const now = new Date();
  if (!shouldExpire(hold, now)) {
    // Early (clock skew) or already ended: an early job re-arms itself, anything else is done.
    if (hold?.status === 'held')
      return { ...base, outcome: 'skipped', expiry: { holdId: hold.id, at: hold.expiresAt } };
    return { ...base, outcome: 'skipped' };
  }
  const events = await endHold(hold!, 'expired', transaction);
  return { ...base, outcome: 'succeeded', events };
}

/** Applies one job in one transaction; MySQL row locks and request status are the fence. */
export function applySeatJob(ctx: Context, job: SeatJob, transaction: Transaction): Promise<Outcome> {
  switch (job.kind) {
    case 'hold':
      return processHold(ctx, job, transaction);
    case 'release':
      return processRelease(ctx, job, transaction);
    case 'confirm':
      return processConfirm(ctx, job, transaction);
    case 'expire':
      return processExpire(ctx, job, transaction);
  }
}
