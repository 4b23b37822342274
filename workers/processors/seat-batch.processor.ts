import { setTimeout as sleep } from 'node:timers/promises';
import type { Sequelize } from 'sequelize';
import type { Context } from '../../shared/context.js';
import {
  asksBest,
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
import {
  CommitFenceRepository,
  type Fence,
  type FenceHolder,
} from '../../shared/db/repositories/commit-fence.repository.js';
import { batchViews, type RequestView } from '../../shared/holds/views.js';
import { tracing, type BatchTrace } from '../../shared/tracing/tracing.js';

// The commit path, in one place: lock the fence → read a snapshot (SQL only) → plan (pure) → write
// the plan (SQL only) → record the after-commit work (the outbox), all in one transaction.
//
// One writer per performance, fenced by MySQL: a batch applies only if the fence row names this
// process as the performance's holder. A process becomes the holder by a claim, made only while it
// holds the BullMQ lock of the queue's running job; a claim that finds the fence row locked for
// longer than a batch takes ends the locking connection (a frozen or dead holder's), so the stale
// holder's transaction rolls back and, when its process wakes, it is no longer the holder.

/**
 * A queued job as the batch sees it: its sequence, its payload, when it was enqueued and (tracing
 * on) its trace context.
 */
export type QueuedJob = { seq: number; data: unknown; enqueuedAt: number; tm?: string };

export class JobsOutOfOrderError extends Error {
  override name = 'JobsOutOfOrderError';
}

/** Another process took the performance over: this one applies nothing until it claims it back. */
export class NotHolderError extends Error {
  override name = 'NotHolderError';
}

/** The running job's BullMQ lock is no longer this worker's: another worker runs the job. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

export type ClaimOptions = {
  /** True while this worker still holds the BullMQ lock of the job it runs (checked under the fence). */
  ownsJob: () => Promise<boolean>;
  /** A holder whose lock on the fence row is older than this is stale: its connection is ended. */
  staleMs: number;
  pollMs: number;
  onTakeover?: (stale: FenceHolder) => void;
};

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
  readonly fences: CommitFenceRepository;
  private readonly layouts = new Map<number, Promise<SeatLayout>>();
  private readonly stocks = new Map<number, CachedStock>();

  constructor(private readonly sequelize: Sequelize) {
    this.reader = new CommitSnapshotReader(sequelize);
    this.writer = new CommitWriter(sequelize);
    this.outbox = new CommitOutboxRepository(sequelize);
    this.fences = new CommitFenceRepository(sequelize);
  }

  /**
   * Makes `owner` the performance's one writer (committed before it applies anything), while it
   * holds the running job's lock. Returns the fence as it stood.
   */
  async claim(performanceId: number, owner: string, o: ClaimOptions): Promise<Fence> {
    return this.sequelize.transaction(async (transaction) => {
      const me = await this.fences.connectionId(transaction);
      const fence = await this.lockTakingOver(performanceId, transaction, me, o);
      if (!fence) throw new Error(`performance ${performanceId} does not exist`);
      if (!(await o.ownsJob()))
        throw new LockLostError(`the job lock of performance ${performanceId} is gone`);
      if (fence.holder !== owner) await this.fences.setHolder(performanceId, owner, transaction);
      return fence;
    });
  }

  /**
   * Locks the fence row; while it waits, looks (every `pollMs`) at who holds it and ends that
   * connection once it has held the row for `staleMs`: a batch takes far less, a frozen or dead
   * holder's lock would otherwise last until MySQL's lock wait timeout.
   */
  private async lockTakingOver(
    performanceId: number,
    transaction: Parameters<CommitFenceRepository['lock']>[1],
    me: number,
    o: ClaimOptions,
  ): Promise<Fence | undefined> {
    let locked = false;
    const watch = async () => {
      for (;;) {
        await sleep(o.pollMs);
        if (locked) return;
        const h = await this.fences.holderOf(performanceId).catch(() => undefined);
        if (locked || !h || h.conn === me || h.heldMs < o.staleMs) continue;
        const killed = await this.fences.kill(h.conn).then(
          () => true,
          () => false, // it ended by itself in between
        );
        if (killed) o.onTakeover?.(h);
      }
    };
    void watch();
    try {
      return await this.fences.lock(performanceId, transaction);
    } finally {
      locked = true;
    }
  }

  /** Applies the jobs above the fence, in order, in one transaction. */
  async applyBatch(performanceId: number, jobs: BatchJob[], o: CommitOptions): Promise<BatchCommit> {
    const p = performanceId;
    let settled: { eventSeq: number; plan: BatchPlan } | undefined;
    if (asksBest(jobs)) await this.layout(p);
    const commit = await this.sequelize.transaction(async (transaction): Promise<BatchCommit> => {
      const fence = await this.fences.lock(p, transaction);
      if (!fence) throw new Error(`performance ${p} does not exist`);
      if (fence.holder !== o.owner)
        throw new NotHolderError(`performance ${p} is held by ${fence.holder || 'nobody'}, not ${o.owner}`);
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

  /**
   * The performance's seat layout (it never changes once created), read once per process: a
   * 60,000-seat venue takes a second or two to read and index. A worker warms it when it starts
   * serving the performance, and a batch with best-available requests starts the read before it
   * opens its transaction, so the fence is never held while it loads.
   */
  layout(performanceId: number): Promise<SeatLayout> {
    let l = this.layouts.get(performanceId);
    if (!l) {
      l = this.reader
        .readLayout(performanceId)
        .then((r) => new SeatLayout(r.seats, new Map(r.zoneIds.map((z, i) => [z, i]))));
      this.layouts.set(performanceId, l);
      l.catch(() => this.layouts.delete(performanceId));
    }
    return l;
  }

  /** The seat map at MySQL's `eventSeq`: the cached one if it is that recent, else read again. */
  private async stockOf(
    performanceId: number,
    eventSeq: number,
    transaction: Parameters<CommitSnapshotReader['readTaken']>[1],
  ): Promise<SeatStock> {
    const cached = this.stocks.get(performanceId);
    if (cached && cached.eventSeq === eventSeq) return cached.stock;
    const layout = await this.layout(performanceId);
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

let stopped = false;

/** Test faults: die, or freeze once (SIGSTOP, until the test sends SIGCONT), inside the transaction. */
function faultBeforeCommit(fault: Context['config']['faultInjection']): (() => void) | undefined {
  if (fault === 'kill-before-commit') return () => process.kill(process.pid, 'SIGKILL');
  if (fault === 'stop-before-commit' && !stopped)
    return () => {
      stopped = true;
      process.kill(process.pid, 'SIGSTOP');
    };
  return undefined;
}

/**
 * Applies a run of queued jobs in one transaction, in queue order: the running job and the jobs
 * queued behind it (those after `after`, by default the running one), or (reading ahead, `running`
 * absent) the jobs after `after`, the last sequence this worker knows applied. `skip` applied jobs
 * may still wait at the head of the queue. At most `max` jobs (and never more than BATCH_MAX_JOBS).
 */
export async function applyQueuedBatch(
  ctx: Context,
  path: SeatCommitPath,
  performanceId: number,
  from: ({ running: QueuedJob; after?: number; skip?: number } | { after: number; skip: number }) & {
    max: number;
  },
  outbox: Pick<CommitOptions, 'completed' | 'owner'>,
): Promise<BatchRun | undefined> {
  const max = Math.max(1, Math.min(from.max, ctx.config.batchMaxJobs));
  const taken: QueuedJob[] = [];
  if ('running' in from) {
    taken.push(from.running);
    const after = Math.max(from.after ?? 0, from.running.seq);
    taken.push(...(await ctx.queues.takeBatch(performanceId, after, max - 1, from.skip ?? 0)));
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
      beforeCommit: faultBeforeCommit(fault),
    });
  const traces = tracing();
  if (!traces) return { commit: await apply(), jobs };
  // Led by the running job: under its consumer span; read ahead: under its first job's enqueue.
  const traced = await traces.batch(performanceId, taken, 'running' in from, apply);
  return { commit: traced.result, jobs, trace: traced.trace };
}
