import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Context } from '../shared/context.js';
import { isInfrastructureError } from '../shared/errors.js';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { performanceQueueName, queuePrefix } from '../shared/queues/names.js';
import { QueueStateLostError } from '../shared/queues/performance-queues.js';
import type { PendingWork } from '../shared/db/repositories/commit-outbox.repository.js';
import {
  batchCommit,
  batchSize,
  jobInfraRetries,
  jobOutcomes,
  jobProcessing,
  jobWait,
} from '../shared/metrics.js';
import {
  applyQueuedBatch,
  JobsOutOfOrderError,
  LockLostError,
  NotHolderError,
  SeatCommitPath,
  toBatchJob,
} from './processors/seat-batch.processor.js';
import { failoverTimings, RUN_RETRY_DELAY_MS, type FailoverTimings } from '../shared/queues/failover.js';
import type { RequestView } from '../shared/holds/views.js';
import { performCommitWork } from './after-commit.js';
import { restoreQueue } from './queue-recovery.js';
import { tracing, type BatchTrace } from '../shared/tracing/tracing.js';

const MAX_UNKNOWN_ERROR_ATTEMPTS = 20;
/** Most jobs a batch led by a newly running job takes (the batches read ahead grow from there). */
const FIRST_BATCH = 64;
/** A running job enqueued longer ago than this has a backlog behind it: its batch takes all it may. */
const BACKLOG_MS = 500;
/**
 * After a read-ahead found nothing queued behind the applied jobs, the next look waits this long:
 * a job added meanwhile is led by itself when it comes up, or taken by the next look.
 */
const READ_AHEAD_IDLE_MS = 10;
/** Infrastructure errors are retried in place, at most this far apart. */
const MAX_RETRY_DELAY_MS = 500;

/** Sequences known applied (by this process's batches): when these jobs come up they complete without MySQL. */
type Applied = { from: number; to: number };

type QueueState = {
  /** The last batches this process applied, oldest first. */
  applied: Applied[];
  /** The highest fence this process has seen: every sequence at or below it is applied. */
  fence: number;
  /** The batch being applied ahead, if any. */
  ahead?: Promise<void>;
  /** After-commit work, chained in commit order. */
  work: Promise<void>;
  /** No reading ahead before this time (the last look found nothing queued behind). */
  idleUntil: number;
};

/**
 * Serves every registered performance queue in this process: one BullMQ Worker per queue, local
 * concurrency 1, while the queue's global concurrency 1 keeps one job at a time across processes.
 * The running job applies itself and the jobs queued behind it in one transaction (a batch); when
 * those jobs come up they are recognised as applied and complete at once.
 */
export class SeatWorkers {
  private readonly workers = new Map<number, Worker>();
  private readonly connection: RedisClient;
  private readonly path: SeatCommitPath;
  private readonly queues = new Map<number, QueueState>();
  /** Outbox entries whose after-commit work this process finished: deleted with the next batch. */
  private readonly completed = new Map<number, Set<number>>();
  /** Outbox entries whose after-commit work this process is doing right now. */
  private readonly inFlight = new Map<number, Set<number>>();
  /** Outbox entries whose after-commit work this process finished (the most recent ones). */
  private readonly finished = new Map<number, Set<number>>();
  /** This process, as it claims outbox entries. */
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly cleanup = new Map<number, NodeJS.Timeout>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly timings: FailoverTimings;
  private closing = false;

  constructor(private readonly ctx: Context) {
    this.connection = createRedis(ctx.config, 'blocking', 'worker');
    this.connection.on('error', (err) => ctx.logger.debug({ err }, 'worker redis error'));
    this.path = new SeatCommitPath(ctx.sequelize);
    this.timings = failoverTimings(ctx.config.workerLockSeconds);
  }

  async start(discoveryMs = 1000, expiryMs = 250): Promise<void> {
    await this.sync();
    const every = (ms: number, name: string, fn: () => Promise<unknown>) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        fn()
          .catch((err: unknown) => this.ctx.logger.warn({ err }, `${name} failed`))
          .finally(() => (running = false));
      }, ms);
      this.timers.push(timer);
    };
    every(discoveryMs, 'queue discovery', () => this.sync());
    every(expiryMs, 'expiry release', () => this.releaseExpiries());
    every(this.timings.outboxCheckMs, 'after-commit takeover', () => this.redoLeftovers());
    every(this.timings.outboxRenewMs, 'after-commit lease', () => this.renewLeases());
  }

  get performanceIds(): number[] {
    return [...this.workers.keys()];
  }

  /**
   * Starts a worker for every performance queue registered and not yet served, and restores the
   * queues whose Redis state is gone (a restart without persistence, a FLUSHALL): running workers
   * remember which performances they serve even when the registry is lost.
   */
  async sync(): Promise<void> {
    for (const id of await this.ctx.queues.registeredPerformanceIds()) {
      if (this.closing || this.workers.has(id)) continue;
      this.serve(id);
    }
    for (const id of this.workers.keys()) {
      if (this.closing) return;
      // The fence first, then Redis: the id counter only grows, so a counter read after the fence
      // that is below it means Redis lost the queue (read the other way round, a batch committed in
      // between would look like a loss and trigger a needless restore).
      const fence = (await this.path.fences.read(id)).appliedSeq;
      const h = await this.ctx.queues.health(id);
      if (h.epoch && h.concurrency && h.lastId >= fence) continue;
      const restored = await restoreQueue(this.ctx, id);
      if (restored)
        this.ctx.logger.warn({ performanceId: id, ...restored }, 'queue restored after Redis lost its state');
    }
  }

  private serve(id: number): void {
    const worker = new Worker(performanceQueueName(id), (job, token) => this.process(id, job, token ?? ''), {
      connection: this.connection,
      prefix: queuePrefix(this.ctx.config.keyPrefix),
      concurrency: 1,
      lockDuration: this.timings.lockMs,
      stalledInterval: this.timings.stalledMs,
      // A stalled job goes back to the head of its queue; never fail it for stalling.
      maxStalledCount: 1_000_000,
      runRetryDelay: RUN_RETRY_DELAY_MS,
      // Tracing on: each job's consumer span continues the trace of its enqueue (bullmq-otel).
      telemetry: tracing()?.telemetry,
    });
    worker.on('error', (err) => this.ctx.logger.warn({ err, performanceId: id }, 'worker error'));
    worker.on('failed', (job, err) =>
      this.ctx.logger.error({ err, jobId: job?.id, performanceId: id }, 'seat job failed for good'),
    );
    this.workers.set(id, worker);
    this.ctx.logger.debug({ performanceId: id }, 'serving performance queue');
    // Best-available picking needs the venue's layout: read it now, not in the sale's first batch.
    this.path
      .layout(id)
      .catch((err: unknown) => this.ctx.logger.debug({ err, performanceId: id }, 'layout not read ahead'));
  }

  async process(performanceId: number, job: Job, token: string): Promise<{ outcome: string; batch: number }> {
    const seq = Number(job.id);
    const st = this.state(performanceId);
    for (;;) {
      const range = st.applied.find((r) => seq >= r.from && seq <= r.to);
      if (range || seq <= st.fence) {
        // Applied already (by this process, or below a fence it saw): completes without MySQL.
        if (range) this.readAhead(performanceId, st, seq);
        if (toBatchJob(seq, job.data, performanceId).kind === 'poison')
          throw new UnrecoverableError(`malformed seat job ${seq}`);
        return { outcome: 'applied', batch: range?.from ?? seq };
      }
      if (!st.ahead) break;
      await st.ahead; // the batch being read ahead may hold this job
    }
    const run = await this.retrying(job, () => this.lead(performanceId, st, job, token));
    if (run.poison) throw new UnrecoverableError(`malformed seat job ${seq}`);
    return { outcome: run.outcome, batch: seq };
  }

  private state(performanceId: number): QueueState {
    let st = this.queues.get(performanceId);
    if (!st)
      this.queues.set(performanceId, (st = { applied: [], fence: 0, work: Promise.resolve(), idleUntil: 0 }));
    return st;
  }

  /**
   * Applies a batch led by `job`: first this process makes sure it is the performance's holder
   * (taking it over if another process was, while it holds the job's lock), then applies the jobs
   * above the fence (all it may when a backlog waits: after a takeover it catches up at once).
   */
  private async lead(
    performanceId: number,
    st: QueueState,
    job: Job,
    token: string,
  ): Promise<{ outcome: string; poison: boolean }> {
    const seq = Number(job.id);
    const fence = await this.path.fences.read(performanceId);
    st.fence = Math.max(st.fence, fence.appliedSeq);
    if (fence.holder !== this.owner) {
      const before = await this.path.claim(performanceId, this.owner, {
        ownsJob: async () => (await this.ctx.queues.jobLock(performanceId, seq)) === token,
        staleMs: this.timings.fenceStaleMs,
        pollMs: this.timings.fencePollMs,
        onTakeover: (stale) =>
          this.ctx.logger.warn(
            { performanceId, jobId: seq, staleConnection: stale.conn, heldMs: stale.heldMs },
            'ended a stale holder of the performance',
          ),
      });
      st.fence = Math.max(st.fence, before.appliedSeq);
      this.ctx.logger.info(
        { performanceId, jobId: seq, from: before.holder || undefined },
        'holding the performance',
      );
    }
    const applied = st.fence;
    const backlog = seq <= applied || Date.now() - job.timestamp > BACKLOG_MS;
    const run = await this.applyBatch(performanceId, st, seq, {
      running: { seq, data: job.data, enqueuedAt: job.timestamp, tm: job.opts.telemetry?.metadata },
      after: applied,
      skip: Math.max(0, applied - seq),
      max: backlog ? this.ctx.config.batchMaxJobs : FIRST_BATCH,
    });
    // The next batch starts now; this batch's after-commit work goes on in the background (in
    // commit order, recorded in the outbox until done).
    this.readAhead(performanceId, st, seq);
    const own = run?.commit.plan.results.find((r) => r.seq === seq);
    const poison = own
      ? own.outcome === 'poison'
      : toBatchJob(seq, job.data, performanceId).kind === 'poison';
    return { outcome: own?.outcome ?? 'applied', poison };
  }

  /**
   * While the jobs of the last batch complete one by one (each a BullMQ round trip and no MySQL),
   * the next batch is applied already: this process holds the queue's only running job, so it is
   * still the one writer. One batch ahead at most.
   */
  private readAhead(performanceId: number, st: QueueState, seq: number): void {
    const last = st.applied[st.applied.length - 1];
    if (st.ahead || this.closing || !last || seq < last.from || Date.now() < st.idleUntil) return;
    // Batches grow while the queue stays busy: the first one is short (its commit is the only one
    // nobody waits behind), each next one up to twice the last, up to BATCH_MAX_JOBS.
    const max = Math.max(FIRST_BATCH, 2 * (last.to - last.from + 1));
    st.ahead = this.applyBatch(performanceId, st, seq, { after: last.to, skip: last.to - seq, max })
      .then(
        (run) => {
          // Nothing queued behind: look again after a pause, not at every job that completes.
          if (!run) st.idleUntil = Date.now() + READ_AHEAD_IDLE_MS;
        },
        (err: unknown) => {
          // Another process took the performance over: its running job leads from now on.
          if (err instanceof NotHolderError) st.applied = [];
          const level = err instanceof NotHolderError ? 'info' : 'warn';
          this.ctx.logger[level]({ err, performanceId }, 'reading ahead stopped');
        },
      )
      .finally(() => (st.ahead = undefined));
  }

  private async applyBatch(
    performanceId: number,
    st: QueueState,
    current: number,
    from: Parameters<typeof applyQueuedBatch>[3],
  ) {
    const started = process.hrtime.bigint();
    const completed = [...(this.completed.get(performanceId) ?? [])];
    const run = await applyQueuedBatch(this.ctx, this.path, performanceId, from, {
      completed,
      owner: this.owner,
    });
    if (!run) return undefined;
    const { commit, jobs, trace } = run;
    if (this.ctx.config.faultInjection === 'kill-after-commit') process.kill(process.pid, 'SIGKILL');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const done = this.completed.get(performanceId);
    completed.forEach((s) => done?.delete(s));

    st.fence = Math.max(st.fence, commit.appliedThrough);
    if (commit.appliedThrough >= current)
      st.applied = [
        ...st.applied.filter((r) => r.to >= current),
        { from: current, to: commit.appliedThrough },
      ];
    const enqueued = new Map(jobs.map((j) => [j.seq, j.enqueuedAt]));
    const now = Date.now();
    if (commit.applied.length) {
      batchSize.observe(commit.applied.length);
      batchCommit.observe(seconds);
    }
    for (const r of commit.plan.results) {
      jobOutcomes.inc({ kind: r.kind, outcome: r.outcome });
      jobProcessing.observe({ kind: r.kind }, seconds);
      jobWait.observe({ kind: r.kind }, Math.max(0, now - (enqueued.get(r.seq) ?? now)) / 1000);
    }
    if (commit.applied.length)
      this.schedule(performanceId, st, [
        { lastSeq: commit.appliedThrough, work: commit.work, views: commit.views, trace },
      ]);
    return run;
  }

  /**
   * After-commit work runs in commit order (so seat events are published in sequence order), and
   * once: the outbox claim keeps other workers off it; `inFlight` and `finished` keep this one from
   * taking its own work for a leftover.
   */
  private schedule(
    performanceId: number,
    st: QueueState,
    works: (PendingWork & { views?: RequestView[]; trace?: BatchTrace })[],
  ): void {
    const busy = this.setOf(this.inFlight, performanceId);
    const finished = this.setOf(this.finished, performanceId);
    works.forEach((w) => busy.add(w.lastSeq));
    st.work = st.work.then(() =>
      Promise.all(
        works.map(async (w) => {
          const perform = () => performCommitWork(this.ctx, performanceId, w.lastSeq, w.work, w.views);
          const ok = await (w.trace ? w.trace.afterCommit(perform) : perform());
          if (ok) {
            finished.add(w.lastSeq);
            if (finished.size > 10_000) finished.delete(finished.values().next().value!);
            this.markDone(performanceId, w.lastSeq);
          }
          busy.delete(w.lastSeq);
        }),
      ).then(() => undefined),
    );
  }

  private setOf(map: Map<number, Set<number>>, performanceId: number): Set<number> {
    let set = map.get(performanceId);
    if (!set) map.set(performanceId, (set = new Set()));
    return set;
  }

  /** Keeps this process's claims on after-commit work fresh while it has some to do. */
  private async renewLeases(): Promise<void> {
    const ids = [...this.inFlight].filter(([, set]) => set.size).map(([id]) => id);
    if (ids.length) await this.path.outbox.renewClaims(ids, this.owner);
  }

  /** Takes over after-commit work whose worker died or froze (its claim was not renewed). */
  private async redoLeftovers(): Promise<void> {
    const ids = [...this.workers.keys()];
    const left = await this.path.outbox.claimStale(
      ids,
      this.owner,
      this.timings.outboxLeaseMs,
      (id, lastSeq) => !!this.inFlight.get(id)?.has(lastSeq) || !!this.finished.get(id)?.has(lastSeq),
    );
    for (const id of ids) {
      const mine = left.filter((w) => w.performanceId === id);
      if (mine.length) {
        this.ctx.logger.warn(
          { performanceId: id, batches: mine.length },
          'redoing after-commit work left behind',
        );
        this.schedule(id, this.state(id), mine);
      }
    }
  }

  /**
   * Records finished after-commit work; the next batch deletes its outbox entry in its own
   * transaction, or a short timer does when the queue goes quiet.
   */
  private markDone(performanceId: number, lastSeq: number): void {
    let set = this.completed.get(performanceId);
    if (!set) this.completed.set(performanceId, (set = new Set()));
    set.add(lastSeq);
    clearTimeout(this.cleanup.get(performanceId));
    this.cleanup.set(
      performanceId,
      setTimeout(() => {
        const seqs = [...(this.completed.get(performanceId) ?? [])];
        this.path.outbox
          .deleteWork(performanceId, seqs)
          .then(() => seqs.forEach((s) => this.completed.get(performanceId)?.delete(s)))
          .catch((err: unknown) => this.ctx.logger.debug({ err }, 'outbox cleanup failed'));
      }, 500),
    );
  }

  /** Due hold expiries become jobs at the back of their queues. */
  private async releaseExpiries(): Promise<void> {
    for (const id of this.workers.keys()) await this.ctx.queues.releaseDueExpiries(id);
  }

  /**
   * Retries in place, so the job keeps its place at the head of the queue (a BullMQ retry would move
   * it to the back). MySQL or Redis being down is waited out for as long as it takes; while the
   * process shuts down the job is abandoned to its lock, and another worker picks it up at the head.
   */
  private async retrying<T>(job: Job, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof UnrecoverableError || err instanceof LockLostError) throw err;
        const infra =
          isInfrastructureError(err) ||
          err instanceof JobsOutOfOrderError ||
          err instanceof NotHolderError ||
          err instanceof QueueStateLostError ||
          (err instanceof Error && err.name === 'SequelizeUniqueConstraintError');
        if (!infra && attempt >= MAX_UNKNOWN_ERROR_ATTEMPTS) throw err;
        jobInfraRetries.inc();
        this.ctx.logger.warn({ err, jobId: job.id, attempt }, 'seat job failed, retrying in place');
        await sleep(Math.min(MAX_RETRY_DELAY_MS, 50 * 2 ** Math.min(attempt, 7)));
        if (this.closing) await new Promise(() => undefined);
      }
    }
  }

  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    this.timers.forEach(clearInterval);
    await Promise.all(
      [...this.workers.values()].map(async (w) => {
        const closed = w.close();
        const timedOut = await Promise.race([closed.then(() => false), sleep(graceMs).then(() => true)]);
        if (timedOut) await w.close(true);
      }),
    );
    this.workers.clear();
    await Promise.all([...this.queues.values()].map((st) => Promise.all([st.ahead, st.work])));
    for (const [id, timer] of this.cleanup) {
      clearTimeout(timer);
      await this.path.outbox
        .deleteWork(id, [...(this.completed.get(id) ?? [])])
        .catch((err: unknown) => this.ctx.logger.debug({ err }, 'outbox cleanup failed'));
    }
    this.connection.disconnect();
  }
}
