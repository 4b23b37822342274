import { UniqueConstraintError } from 'sequelize';
import type { Config } from '../config.js';
import { ConflictError, ValidationError } from '../errors.js';
import type { RequestKind } from '../db/models/index.js';
import type { HoldRequestRepository, RequestRow } from '../db/repositories/hold-request.repository.js';
import type { PerformanceQueues, QueueMarks } from '../queues/performance-queues.js';
import type { BestAvailable, RequestJob } from '../queues/jobs.js';
import type { Catalogue } from '../catalogue/catalogue.service.js';
import { duplicatedIds, queuePosition } from '../domain/holds.js';
import { requestsEnqueued } from '../metrics.js';
import type { RequestWaiter } from './request-waiter.js';
import type { RequestEnqueuer } from './request-enqueuer.js';
import type { RequestReads } from './request-reads.service.js';
import type { RequestView } from './views.js';

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

export type Intake = {
  waitSeconds: number;
  kind: RequestKind;
  memberId: number;
  performanceId: number;
  holdId: number | null;
  /** What the request asks, as stored; `authorizationId` is left out when a retry is compared. */
  payload: Record<string, unknown>;
  idempotencyKey: string | undefined;
  job: (requestId: number) => RequestJob;
};

/**
 * A retry that finds its request accepted this long ago with no queue sequence known: its API
 * process most likely died before the enqueue, and the retry enqueues it (see RequestEnqueuer).
 */
const RETRY_RECOVERS_AFTER_MS = 1000;

/**
 * The accepting side of the accept path: validates a request against the performance, honours its
 * Idempotency-Key, inserts it and enqueues its job. MySQL through the request repository only;
 * Redis through the queues and the enqueuer.
 */
export class RequestIntake {
  constructor(
    private readonly config: Config,
    private readonly rows: HoldRequestRepository,
    private readonly queues: PerformanceQueues,
    private readonly enqueuer: RequestEnqueuer,
    private readonly catalogue: Catalogue,
    private readonly waiter: RequestWaiter,
    private readonly reads: RequestReads,
  ) {}

  async hold(
    memberId: number,
    performanceId: number,
    seatIds: number[] | { best: BestAvailable },
    idempotencyKey?: string,
    waitSeconds = 0,
  ): Promise<Accepted> {
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
    return this.acceptHold(memberId, performanceId, { seatIds }, idempotencyKey, waitSeconds);
  }

  /** Best available: the worker picks the seats at the request's turn (contract §3). */
  private async holdBest(
    memberId: number,
    performanceId: number,
    best: BestAvailable,
    idempotencyKey: string | undefined,
    waitSeconds: number,
  ): Promise<Accepted> {
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
    return this.acceptHold(memberId, performanceId, { best }, idempotencyKey, waitSeconds);
  }

  /** A checked hold ask (named seats or best available): stored as asked, its job carries the same. */
  private acceptHold(
    memberId: number,
    performanceId: number,
    ask: { seatIds: number[] } | { best: BestAvailable },
    idempotencyKey: string | undefined,
    waitSeconds: number,
  ): Promise<Accepted> {
    return this.accept({
      waitSeconds,
      kind: 'hold',
      memberId,
      performanceId,
      holdId: null,
      payload: ask,
      idempotencyKey,
      job: (requestId) => ({ kind: 'hold', requestId, performanceId, memberId, ...ask }),
    });
  }

  async release(
    memberId: number,
    hold: { id: number; performanceId: number },
    idempotencyKey?: string,
    waitSeconds = 0,
  ): Promise<Accepted> {
    return this.accept({
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

  /** The member's earlier request with this key, if any. */
  byKey(memberId: number, idempotencyKey: string) {
    return this.rows.byKey(memberId, idempotencyKey);
  }

  /** Inserts the request and enqueues its job; a known Idempotency-Key answers its request instead. */
  async accept(e: Intake): Promise<Accepted & { replayed?: boolean }> {
    const waitMs = e.waitSeconds * 1000;
    if (e.idempotencyKey) {
      const existing = await this.byKey(e.memberId, e.idempotencyKey);
      if (existing) return { ...(await this.replay(existing, e)), replayed: true };
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
      const twin = await this.byKey(e.memberId, e.idempotencyKey);
      if (!twin) throw err;
      if (e.kind === 'confirm')
        throw new ConflictError('idempotency-key-reused', 'A request with this key is in flight.');
      return { ...(await this.replay(twin, e)), replayed: true };
    }
    if (this.config.faultInjection === 'kill-before-enqueue') process.kill(process.pid, 'SIGKILL');
    // Listening starts before the job exists, so a fast commit's announcement cannot be missed.
    const wake = waitMs > 0 ? await this.waiter.arm(requestId, waitMs) : undefined;
    let seq: number;
    let m: QueueMarks;
    try {
      seq = await this.enqueuer.enqueue(e.job(requestId));
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
    this.reads.owners.remember(requestId, { performanceId: e.performanceId, memberId: e.memberId, seq });
    const final = wake ? await wake.done : undefined;
    if (final) return { requestId, status: final.status, final };
    return { requestId, status: 'queued', position: queuePosition(seq, m.started) };
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

  /**
   * A repeated Idempotency-Key: the same request, enqueued once. One accepted a while ago whose
   * enqueue MySQL never heard of is enqueued now if it never was (its API process died in between).
   */
  async replay(
    existing: RequestRow & { ageMs: number },
    e: Pick<Intake, 'kind' | 'performanceId' | 'payload'>,
  ) {
    const same =
      existing.kind === e.kind &&
      existing.performanceId === e.performanceId &&
      sameAsk(JSON.parse(existing.payload) as Record<string, unknown>, e.payload);
    if (!same)
      throw new ConflictError(
        'idempotency-key-reused',
        'This Idempotency-Key was used for a different request.',
      );
    let row: RequestRow = existing;
    if (
      existing.status === 'queued' &&
      existing.queueSeq == null &&
      existing.ageMs >= RETRY_RECOVERS_AFTER_MS
    ) {
      const seq = await this.enqueuer.recover(existing);
      if (seq !== undefined) {
        row = { ...existing, queueSeq: seq };
        this.reads.owners.remember(row.id, { performanceId: row.performanceId, memberId: row.memberId, seq });
      }
    }
    const view = await this.reads.view(row);
    return {
      requestId: existing.id,
      status: view.status,
      ...(view.position !== undefined ? { position: view.position } : {}),
    };
  }
}

/**
 * Whether a retry asks the same as the stored request: the same payload, but for the payment's
 * authorisation, which each attempt gets anew. A confirm stored before payments were fingerprinted
 * is compared by its hold alone.
 */
function sameAsk(stored: Record<string, unknown>, asked: Record<string, unknown>): boolean {
  const s = { ...stored };
  const a = { ...asked };
  delete s['authorizationId'];
  delete a['authorizationId'];
  if (s['payment'] === undefined) delete a['payment'];
  return JSON.stringify(s) === JSON.stringify(a);
}
