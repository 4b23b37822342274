import { randomUUID } from 'node:crypto';
import { QueryTypes, UniqueConstraintError } from 'sequelize';
import { z } from 'zod';
import type { Config } from '../config.js';
import { ConflictError, NotFoundError, PaymentDeclinedError, ValidationError } from '../errors.js';
import { Hold, HoldRequest, Payment, type RequestKind } from '../db/models/index.js';
import { HoldRequestRepository, type RequestRow } from '../db/repositories/hold-request.repository.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';
import type { BestAvailable, RequestJob } from '../queues/jobs.js';
import type { Catalogue } from '../catalogue/catalogue.service.js';
import type { PaymentGateway } from '../payments/gateway.js';
import { duplicatedIds, queuePosition } from '../domain/holds.js';
import type { QueueMarks } from '../queues/performance-queues.js';
import { paymentAuthorizations, requestsEnqueued } from '../metrics.js';
import type { RequestWaiter } from './request-waiter.js';
import type { RedisClient } from '../redis.js';
import type { HoldView, RequestView } from './views.js';

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const paymentSchema = z.object({
  method: z.string().trim().min(1).max(32),
  token: z.string().min(1).max(256),
});

export type { HoldView, RequestView } from './views.js';

/** The most one payment may carry: `payments.amount` is DECIMAL(12,2). */
export const MAX_PAYMENT_AMOUNT = 9_999_999_999.99;

/**
 * A 202's body; with a wait preference (`Prefer: wait=N`) and a request that became final within
 * it, `final` is the request's view.
 */
export type Accepted = {
  requestId: number;
  status: RequestView['status'];
  position?: number;
  final?: RequestView;
};

type Enqueue = {
  waitSeconds: number;
  kind: RequestKind;
  memberId: number;
  performanceId: number;
  holdId: number | null;
  payload: Record<string, unknown>;
  idempotencyKey: string | undefined;
  job: (requestId: number) => RequestJob;
};

export class SeatRequests {
  private readonly rows: HoldRequestRepository;

  constructor(
    private readonly config: Config,
    private readonly queues: PerformanceQueues,
    private readonly catalogue: Catalogue,
    private readonly payments: PaymentGateway,
    private readonly waiter: RequestWaiter,
    private readonly redis: RedisClient,
  ) {
    this.rows = new HoldRequestRepository(HoldRequest.sequelize!);
  }

  async hold(
    memberId: number,
    performanceId: number,
    seatIds: number[] | { best: BestAvailable },
    idempotencyKey?: string,
    waitSeconds = 0,
  ) {
    if (!Array.isArray(seatIds))
      return this.holdBest(memberId, performanceId, seatIds.best, idempotencyKey, waitSeconds);
    const info = await this.catalogue.info(performanceId);
    const errors = [
      ...duplicatedIds(seatIds).map((id) => ({ path: 'seatIds', message: `seat ${id} is listed twice` })),
      ...seatIds.flatMap((id, i) =>
        info.seatIds.has(id)
          ? []
          : [{ path: `seatIds.${i}`, message: `seat ${id} is not a seat of performance ${performanceId}` }],
      ),
    ];
    if (seatIds.length > this.config.maxSeatsPerMember)
      errors.push({ path: 'seatIds', message: `at most ${this.config.maxSeatsPerMember} seats per request` });
    if (errors.length) throw new ValidationError(errors);
    return this.enqueue({
      waitSeconds,
      kind: 'hold',
      memberId,
      performanceId,
      holdId: null,
      payload: { seatIds },
      idempotencyKey,
      job: (requestId) => ({ kind: 'hold', requestId, performanceId, memberId, seatIds }),
    });
  }

  /** Best available: the worker picks the seats at the request's turn (contract §3). */
  private async holdBest(
    memberId: number,
    performanceId: number,
    best: BestAvailable,
    idempotencyKey: string | undefined,
    waitSeconds: number,
  ) {
    const info = await this.catalogue.info(performanceId);
    const errors = [];
    if (best.zoneId !== undefined && !info.zoneIds.has(best.zoneId))
      errors.push({
        path: 'best.zoneId',
        message: `zone ${best.zoneId} is not a zone of performance ${performanceId}`,
      });
    if (best.gradeId !== undefined && !info.gradeIds.has(best.gradeId))
      errors.push({
        path: 'best.gradeId',
        message: `grade ${best.gradeId} is not a grade of performance ${performanceId}`,
      });
    if (best.count > this.config.maxSeatsPerMember)
      errors.push({
        path: 'best.count',
        message: `at most ${this.config.maxSeatsPerMember} seats per request`,
      });
    if (errors.length) throw new ValidationError(errors);
    return this.enqueue({
      waitSeconds,
      kind: 'hold',
      memberId,
      performanceId,
      holdId: null,
      payload: { best },
      idempotencyKey,
      job: (requestId) => ({ kind: 'hold', requestId, performanceId, memberId, best }),
    });
  }

  /** The member's own hold; another member's is as absent as a missing one. */
  async ownHold(memberId: number, holdId: number): Promise<Hold> {
    const hold = await Hold.findByPk(holdId);
    if (!hold || hold.memberId !== memberId)
      throw new NotFoundError('hold-not-found', `You have no hold ${holdId}.`);
    return hold;
  }

  /**
   * Authorises the payment first, so a slow or declined payment never reaches the queue. Every
   * authorisation ends captured or voided: the worker captures or voids what it applies, this
   * function voids what it does not enqueue (a failed insert, a failed enqueue, a twin that won the
   * key), and the sweeper voids what a crash in between leaves behind. One key authorises once.
   */
  async confirm(
    memberId: number,
    hold: Hold,
    payment: z.infer<typeof paymentSchema>,
    idempotencyKey?: string,
    waitSeconds = 0,
  ) {
    if (idempotencyKey) {
      const existing = await this.findByKey(memberId, idempotencyKey);
      if (existing) return this.replay(existing, 'confirm', hold.performanceId, { holdId: hold.id });
    }
    const [row] = await HoldRequest.sequelize!.query<{ amount: number | null }>(
      `SELECT SUM(g.price) AS amount FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id
         JOIN seat_grades g ON g.id = s.grade_id WHERE hs.hold_id = ?`,
      { type: QueryTypes.SELECT, replacements: [hold.id] },
    );
    const amount = Number(row?.amount ?? 0);
    if (!(amount <= MAX_PAYMENT_AMOUNT))
      throw new ValidationError(
        [{ path: 'payment', message: `the amount ${amount} is more than one payment may carry` }],
        'This hold costs more than one payment may carry; hold fewer seats.',
      );
    const claim = idempotencyKey ? await this.claimKey(memberId, idempotencyKey) : undefined;
    if (idempotencyKey && !claim) {
      // A concurrent confirm with this key is authorising: it, not this one, pays.
      const twin = await this.findByKey(memberId, idempotencyKey);
      if (twin) return this.replay(twin, 'confirm', hold.performanceId, { holdId: hold.id });
      throw new ConflictError('idempotency-key-reused', 'A request with this key is in flight.');
    }
    try {
      const auth = await this.payments.authorize({ amount, method: payment.method, token: payment.token });
      if (!auth.ok) {
        paymentAuthorizations.inc({ outcome: 'declined' });
        throw new PaymentDeclinedError(auth.reason);
      }
      paymentAuthorizations.inc({ outcome: 'authorized' });
      let out: Accepted & { replayed?: boolean };
      try {
        await Payment.create({
          authorizationId: auth.authorizationId,
          holdId: hold.id,
          memberId,
          amount,
          method: payment.method,
          status: 'authorized',
        });
        out = await this.enqueue({
          waitSeconds,
          kind: 'confirm',
          memberId,
          performanceId: hold.performanceId,
          holdId: hold.id,
          payload: { holdId: hold.id, authorizationId: auth.authorizationId },
          idempotencyKey,
          job: (requestId) => ({
            kind: 'confirm',
            requestId,
            performanceId: hold.performanceId,
            memberId,
            holdId: hold.id,
            authorizationId: auth.authorizationId,
          }),
        });
      } catch (err) {
        // Nothing was enqueued (or a concurrent twin won the key): the authorisation must not linger.
        await this.voidUnused(auth.authorizationId);
        throw err;
      }
      if (out.replayed) await this.voidUnused(auth.authorizationId);
      delete out.replayed;
      return out;
    } finally {
      await claim?.release();
    }
  }

  /**
   * The gateway first (it is what holds the customer's money), then our row, each on its own: with
   * MySQL down the void still happens, and the sweeper settles the row later.
   */
  private async voidUnused(authorizationId: string): Promise<void> {
    await this.payments.void(authorizationId).then(
      () => paymentAuthorizations.inc({ outcome: 'voided' }),
      () => undefined, // Redis or the provider unreachable: the sweeper voids it
    );
    await Payment.update({ status: 'voided' }, { where: { authorizationId, status: 'authorized' } }).catch(
      () => undefined,
    );
  }

  /** One confirm at a time per (member, key): a second one does not authorise while the first does. */
  private async claimKey(memberId: number, idempotencyKey: string) {
    const key = `${this.config.keyPrefix}:confirm-key:${memberId}:${idempotencyKey}`;
    const token = randomUUID();
    const got = await this.redis.set(key, token, 'PX', 120_000, 'NX');
    if (!got) return undefined;
    return {
      release: async () => {
        if ((await this.redis.get(key).catch(() => null)) === token)
          await this.redis.del(key).catch(() => undefined);
      },
    };
  }

  async release(memberId: number, hold: Hold, idempotencyKey?: string, waitSeconds = 0) {
    return this.enqueue({
      waitSeconds,
      kind: 'release',
      memberId,
      performanceId: hold.performanceId,
      holdId: hold.id,
      payload: { holdId: hold.id },
      idempotencyKey,
      job: (requestId) => ({
        kind: 'release',
        requestId,
        performanceId: hold.performanceId,
        memberId,
        holdId: hold.id,
      }),
    });
  }

  private findByKey(memberId: number, idempotencyKey: string) {
    return this.rows.byKey(memberId, idempotencyKey);
  }

  private async enqueue(e: Enqueue): Promise<Accepted & { replayed?: boolean }> {
    const waitMs = e.waitSeconds * 1000;
    if (e.idempotencyKey) {
      const existing = await this.findByKey(e.memberId, e.idempotencyKey);
      if (existing)
        return { ...(await this.replay(existing, e.kind, e.performanceId, e.payload)), replayed: true };
    }
    // The queue's marks are read alongside the insert: the position they give is never below the
    // true one (the marks only move up), and a missing epoch says Redis lost its state.
    const marks = this.queues.marks(e.performanceId);
    marks.catch(() => undefined);
    let requestId: number;
    try {
      requestId = await this.rows.insert({
        performanceId: e.performanceId,
        memberId: e.memberId,
        kind: e.kind,
        idempotencyKey: e.idempotencyKey ?? null,
        payload: JSON.stringify(e.payload),
        holdId: e.holdId,
      });
    } catch (err) {
      if (!(err instanceof UniqueConstraintError) || !e.idempotencyKey) throw err;
      const twin = await this.findByKey(e.memberId, e.idempotencyKey);
      if (!twin) throw err;
      if (e.kind === 'confirm')
        throw new ConflictError('idempotency-key-reused', 'A request with this key is in flight.');
      return { ...(await this.replay(twin, e.kind, e.performanceId, e.payload)), replayed: true };
    }
    // Listening starts before the job exists, so a fast commit's announcement cannot be missed.
    const wake = waitMs > 0 ? await this.waiter.arm(requestId, waitMs) : undefined;
    let seq: number;
    let m: QueueMarks;
    try {
      seq = await this.queues.enqueue(e.job(requestId));
      m = await marks;
    } catch (err) {
      wake?.cancel();
      // Not enqueued: the request never existed for the client, who gets a 503 and may retry.
      await this.rows.delete(requestId).catch(() => undefined);
      throw err;
    }
    requestsEnqueued.inc({ kind: e.kind });
    // Positions come from Redis; MySQL learns the sequence off the answer's path, for the order of a
    // restore after Redis loses data (the worker records it too when it applies the request).
    if (m.epoch) this.recordSeq(requestId, seq);
    this.remember(requestId, { performanceId: e.performanceId, memberId: e.memberId, seq });
    const final = wake ? await wake.done : undefined;
    if (final) return { requestId, status: final.status, final };
    return { requestId, status: 'queued', position: queuePosition(seq, m.started) };
  }

  /** Who owns a request, on which queue and at which sequence: facts that never change, so cached. */
  private readonly owners = new Map<number, { performanceId: number; memberId: number; seq?: number }>();

  private remember(requestId: number, r: { performanceId: number; memberId: number; seq?: number }): void {
    if (this.owners.has(requestId)) return;
    if (this.owners.size >= 100_000) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(requestId, r);
  }

  private seqBacklog: [number, number][] = [];
  private seqTimer: NodeJS.Timeout | undefined;

  /** Queue sequences reach MySQL in one statement per 20 ms, not one write per request. */
  private recordSeq(requestId: number, seq: number): void {
    this.seqBacklog.push([requestId, seq]);
    this.seqTimer ??= setTimeout(() => void this.flushSeqs(), 20);
  }

  async flushSeqs(): Promise<void> {
    clearTimeout(this.seqTimer);
    this.seqTimer = undefined;
    const pairs = this.seqBacklog.splice(0);
    await this.rows.setQueueSeqs(pairs).catch(() => undefined); // best effort: see recordSeq
  }

  /** A repeated Idempotency-Key: the same request, enqueued once. */
  private async replay(
    existing: RequestRow,
    kind: RequestKind,
    performanceId: number,
    payload: Record<string, unknown>,
  ) {
    const same =
      existing.kind === kind &&
      existing.performanceId === performanceId &&
      (kind === 'confirm'
        ? (JSON.parse(existing.payload) as { holdId: number }).holdId === payload['holdId']
        : existing.payload === JSON.stringify(payload));
    if (!same)
      throw new ConflictError(
        'idempotency-key-reused',
        'This Idempotency-Key was used for a different request.',
      );
    const view = await this.view(existing);
    return {
      requestId: existing.id,
      status: view.status,
      ...(view.position !== undefined ? { position: view.position } : {}),
    };
  }

  async get(memberId: number, requestId: number, waitSeconds: number): Promise<RequestView> {
    const notFound = () => new NotFoundError('request-not-found', `You have no request ${requestId}.`);
    const deadline = Date.now() + waitSeconds * 1000;
    const known = this.owners.get(requestId);
    if (known && known.memberId !== memberId) throw notFound();
    // A request this process knows is answered from the announcement of its commit: at once if
    // the news came already, else when it comes (a missed one is caught by the check each second;
    // one committed before this process listened reads MySQL).
    const heard = known ? this.waiter.announced(requestId) : undefined;
    if (heard) return heard;
    for (let first = true; known?.seq !== undefined && Date.now() < deadline; first = false) {
      const wake = await this.waiter.arm(requestId, Math.min(1000, deadline - Date.now()));
      const missed = this.waiter.announced(requestId);
      if (missed) {
        wake.cancel();
        return missed;
      }
      const committed =
        this.waiter.heardCommitted(known.performanceId, known.seq) ||
        (!first && (await this.queues.standing(known.performanceId, known.seq)).final);
      if (committed) {
        wake.cancel();
        break;
      }
      const announced = await wake.done;
      if (announced) return announced;
    }
    // One read per wake-up: listen first, then read, so an announcement in between is not missed.
    for (;;) {
      const wake =
        Date.now() < deadline
          ? await this.waiter.arm(requestId, Math.min(1000, deadline - Date.now()))
          : undefined;
      const request = await this.rows.byId(requestId);
      if (!request || request.memberId !== memberId) {
        wake?.cancel();
        throw notFound();
      }
      this.remember(request.id, {
        performanceId: request.performanceId,
        memberId: request.memberId,
        ...(request.queueSeq != null ? { seq: request.queueSeq } : {}),
      });
      if (request.status !== 'queued' || !wake) {
        wake?.cancel();
        return this.view(request);
      }
      // The worker's announcement carries the final view: no second read of MySQL.
      const announced = await wake.done;
      if (announced) return announced;
    }
  }

  private async view(r: RequestRow): Promise<RequestView> {
    const v: RequestView = { requestId: r.id, kind: r.kind, status: r.status };
    const seq = this.owners.get(r.id)?.seq ?? r.queueSeq;
    if (r.status === 'queued' && seq != null) {
      const standing = await this.queues.standing(r.performanceId, seq);
      if (standing.processing) v.status = 'processing';
      else if (standing.position !== undefined) v.position = standing.position;
    } else if (r.reason) v.reason = r.reason;
    if (r.holdId != null) {
      const [hold] = await this.rows.holds({ id: r.holdId });
      if (hold) v.hold = hold;
    }
    if (r.kind === 'confirm' && r.status === 'succeeded' && r.holdId != null) {
      v.tickets = await this.rows.ticketsOfHold(r.holdId);
    }
    return v;
  }

  holdViews(memberId: number): Promise<HoldView[]> {
    return this.rows.holds({ memberId });
  }

  async tickets(memberId: number) {
    const rows = await HoldRequest.sequelize!.query<{
      serial: string;
      seatId: number;
      performanceId: number;
      seatCode: string;
      zone: string;
      price: number;
    }>(
      // zone: in a stadium a seat code means nothing without its block.
      `SELECT t.serial, t.seat_id AS seatId, t.performance_id AS performanceId, s.code AS seatCode, z.name AS zone,
              t.price
         FROM tickets t JOIN seats s ON s.id = t.seat_id JOIN zones z ON z.id = s.zone_id
        WHERE t.member_id = ? ORDER BY t.id`,
      { type: QueryTypes.SELECT, replacements: [memberId] },
    );
    return rows.map((r) => ({
      ...r,
      seatId: Number(r.seatId),
      performanceId: Number(r.performanceId),
      price: Number(r.price),
    }));
  }
}
