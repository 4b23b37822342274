import type { Sequelize } from 'sequelize';
import type { Context } from '../../shared/context.js';
import {
  batchFootprint,
  planBatch,
  type BatchJob,
  type BatchPlan,
  type CommitWork,
} from '../../shared/domain/batch.js';
import { SeatLayout, SeatStock } from '../../shared/domain/best-available.js';
import { seatJobSchema } from '../../shared/queues/jobs.js';
import { CommitSnapshotReader } from '../../shared/db/repositories/commit-snapshot.repository.js';
import { CommitWriter } from '../../shared/db/repositories/commit-writer.repository.js';
import { CommitOutboxRepository } from '../../shared/db/repositories/commit-outbox.repository.js';
import { batchViews, type RequestView } from '../../shared/holds/views.js';
import { tracing, type BatchTrace } from '../../shared/tracing/tracing.js';

// The commit path, in one place: lock the fence → read a snapshot (SQL only) → plan (pure) → write
// the plan (SQL only) → record the after-commit work (the outbox), all in one transaction.

/**
 * A queued job as the batch sees it: its sequence, its payload, when it was enqueued and (tracing
 * on) its trace context.
 */
export type QueuedJob = { seq: number; data: unknown; enqueuedAt: number; tm?: string };

export class JobsOutOfOrderError extends Error {
  override name = 'JobsOutOfOrderError';
}

export type BatchCommit = {
  /** The fence after it: the last sequence of the batch, or the old fence if nothing was new. */
  appliedThrough: number;
  /** The jobs above the fence, as applied, with the plan that decided them. */
  applied: BatchJob[];
  plan: BatchPlan;
  work: CommitWork;
  /**
   * What each request decided here reads like now (the long-polls answer with it). Not kept in the
   * outbox: a redo announces without views, and long-polls read MySQL instead.
   */
  views: RequestView[];
};

export type CommitOptions = {
  holdTtlSeconds: number;
  maxSeatsPerMember: number;
  /** Outbox entries whose after-commit work is done: deleted in this transaction. */
  completed: number[];
  /** This worker process: it claims the outbox entry it writes. */
  owner: string;
  /**
   * Called when the batch starts above fence + 1: true if a job in between is still waiting or
   * running (so this batch would overtake it).
   */
  pendingBetween: (from: number, to: number) => Promise<boolean>;
  /** Test hook: runs just before COMMIT. */
  beforeCommit?: () => void;
};

/**
 * A job's payload as a batch item. One that does not parse, names another performance, or asks for
 * both seat ids and best available (or neither), is poison: it keeps its place and applies nothing.
 */
export function toBatchJob(seq: number, data: unknown, performanceId: number): BatchJob {
  const parsed = seatJobSchema.safeParse(typeof data === 'string' ? safeJson(data) : data);
  if (!parsed.success || parsed.data.performanceId !== performanceId) return { seq, kind: 'poison' };
  const d = parsed.data;
  if (d.kind === 'hold') {
    if (!d.seatIds === !d.best) return { seq, kind: 'poison' };
    const { requestId, memberId } = d;
    return d.best
      ? { seq, kind: 'hold', requestId, memberId, seatIds: [], best: d.best }
      : { seq, kind: 'hold', requestId, memberId, seatIds: d.seatIds ?? [] };
  }
  const job = { seq, ...d } as BatchJob & { performanceId?: number };
  delete job.performanceId;
  return job;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** The worker's copy of a performance's seat map, valid while MySQL's event sequence is `eventSeq`. */
type CachedStock = { stock: SeatStock; eventSeq: number };

export class SeatCommitPath {
  readonly reader: CommitSnapshotReader;
  readonly writer: CommitWriter;
  readonly outbox: CommitOutboxRepository;
  private readonly layouts = new Map<number, SeatLayout>();
  private readonly stocks = new Map<number, CachedStock>();

  constructor(private readonly sequelize: Sequelize) {
    this.reader = new CommitSnapshotReader(sequelize);
    this.writer = new CommitWriter(sequelize);
    this.outbox = new CommitOutboxRepository(sequelize);
  }

  /** Applies the jobs above the fence, in order, in one transaction. */
  async applyBatch(performanceId: number, jobs: BatchJob[], o: CommitOptions): Promise<BatchCommit> {
    const p = performanceId;
    let settled: { eventSeq: number; plan: BatchPlan } | undefined;
    const commit = await this.sequelize.transaction(async (transaction): Promise<BatchCommit> => {
      const fence = await this.reader.lockFence(p, transaction);
      if (!fence) throw new Error(`performance ${p} does not exist`);
      const fresh = jobs.filter((j) => j.seq > fence.appliedSeq);
      const first = fresh[0];
      if (
        first &&
        first.seq > fence.appliedSeq + 1 &&
        (await o.pendingBetween(fence.appliedSeq + 1, first.seq - 1))
      )
        throw new JobsOutOfOrderError(
          `performance ${p}: job ${first.seq} would pass a waiting job after ${fence.appliedSeq}`,
        );

      const now = new Date();
      const footprint = batchFootprint(fresh);
      const rows = await this.reader.read(p, footprint, transaction);
      const stock = footprint.best ? await this.stockOf(p, fence.eventSeq, transaction) : undefined;
      const plan = planBatch(fresh, {
        now,
        holdTtlSeconds: o.holdTtlSeconds,
        maxSeatsPerMember: o.maxSeatsPerMember,
        ...rows,
        stock,
      });
      if (!fresh.length) {
        await this.outbox.deleteWork(p, o.completed, transaction);
        o.beforeCommit?.();
        const work = { events: [], announce: [], expiries: [], capture: [], void: [], leave: [] };
        return { appliedThrough: fence.appliedSeq, applied: [], plan, work, views: [] };
      }
      const last = fresh[fresh.length - 1]!.seq;
      const written = await this.writer.write(
        p,
        plan,
        { lastSeq: last, eventSeq: fence.eventSeq, now, prices: rows.prices },
        transaction,
      );
      const work: CommitWork = {
        events: written.events,
        announce: plan.results.flatMap((r) => (r.requestId ? [r.requestId] : [])),
        expiries: [
          ...plan.newHolds.map(
            (h) => [written.createdHolds.get(h.requestId)!, h.expiresAt.getTime()] as [number, number],
          ),
          ...plan.rearm.map((r) => [r.holdId, r.at.getTime()] as [number, number]),
        ],
        capture: plan.capture,
        void: plan.void,
        leave: plan.finished,
      };
      await this.outbox.record(
        p,
        { lastSeq: last, work },
        { owner: o.owner, completed: o.completed, now },
        transaction,
      );
      o.beforeCommit?.();
      settled = { eventSeq: fence.eventSeq, plan };
      const views = batchViews(p, fresh, plan, rows.holds, written.createdHolds, written.tickets);
      return { appliedThrough: last, applied: fresh, plan, work, views };
    });
    if (settled) this.advanceStock(p, settled.eventSeq, settled.plan);
    return commit;
  }

  /** The seat map at MySQL's `eventSeq`: the cached one if it is that recent, else read again. */
  private async stockOf(
    performanceId: number,
    eventSeq: number,
    transaction: Parameters<CommitSnapshotReader['readTaken']>[1],
  ): Promise<SeatStock> {
    const cached = this.stocks.get(performanceId);
    if (cached && cached.eventSeq === eventSeq) return cached.stock;
    let layout = this.layouts.get(performanceId);
    if (!layout) {
      const l = await this.reader.readLayout(performanceId);
      layout = new SeatLayout(l.seats, new Map(l.zoneIds.map((z, i) => [z, i])));
      this.layouts.set(performanceId, layout);
    }
    const taken = await this.reader.readTaken(performanceId, transaction);
    const stock = SeatStock.of(layout, (id) => taken.get(id) ?? 'available');
    this.stocks.set(performanceId, { stock, eventSeq });
    return stock;
  }

  /** After a commit: the cached seat map follows it (or is dropped if it was not at its start). */
  private advanceStock(performanceId: number, eventSeq: number, plan: BatchPlan): void {
    const cached = this.stocks.get(performanceId);
    if (!cached) return;
    if (cached.eventSeq !== eventSeq) {
      this.stocks.delete(performanceId);
      return;
    }
    for (const c of plan.seatChanges) cached.stock.set(c.seatId, c.status);
    cached.eventSeq = eventSeq + plan.seatChanges.length;
  }
}

export type BatchRun = {
  commit: BatchCommit;
  jobs: (BatchJob & { enqueuedAt: number })[];
  /** Tracing on: the batch's span, for its after-commit work. */
  trace?: BatchTrace;
};

/**
 * Applies a run of queued jobs in one transaction, in queue order: the running job and the jobs
 * queued right behind it, or (reading ahead, `running` absent) the jobs after `after`, the last
 * sequence this worker applied, of which `skip` may still wait at the head of the queue. At most
 * `max` jobs (and never more than BATCH_MAX_JOBS).
 */
export async function applyQueuedBatch(
  ctx: Context,
  path: SeatCommitPath,
  performanceId: number,
  from: ({ running: QueuedJob } | { after: number; skip: number }) & { max: number },
  outbox: Pick<CommitOptions, 'completed' | 'owner'>,
): Promise<BatchRun | undefined> {
  const max = Math.max(1, Math.min(from.max, ctx.config.batchMaxJobs));
  const taken: QueuedJob[] = [];
  if ('running' in from) {
    taken.push(from.running);
    taken.push(...(await ctx.queues.takeBatch(performanceId, from.running.seq, max - 1)));
  } else taken.push(...(await ctx.queues.takeBatch(performanceId, from.after, max, from.skip)));
  if (!taken.length) return undefined;
  const jobs = taken.map((j) => ({ ...toBatchJob(j.seq, j.data, performanceId), enqueuedAt: j.enqueuedAt }));
  const fault = ctx.config.faultInjection;
  const apply = () =>
    path.applyBatch(performanceId, jobs, {
      holdTtlSeconds: ctx.config.holdTtlSeconds,
      maxSeatsPerMember: ctx.config.maxSeatsPerMember,
      ...outbox,
      pendingBetween: (a, b) => ctx.queues.pendingBetween(performanceId, a, b),
      beforeCommit: fault === 'kill-before-commit' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
    });
  const traces = tracing();
  if (!traces) return { commit: await apply(), jobs };
  // Led by the running job: under its consumer span; read ahead: under its first job's enqueue.
  const traced = await traces.batch(performanceId, taken, 'running' in from, apply);
  return { commit: traced.result, jobs, trace: traced.trace };
}
