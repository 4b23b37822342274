import type { Context } from '../../shared/context.js';
import type { BatchJob } from '../../shared/domain/batch.js';
import { seatJobSchema } from '../../shared/queues/jobs.js';
import type {
  BatchCommit,
  CommitOptions,
  SeatCommitRepository,
} from '../../shared/db/repositories/seat-commit.repository.js';

/** A queued job as the batch sees it: its sequence, its payload and when it was enqueued. */
export type QueuedJob = { seq: number; data: unknown; enqueuedAt: number };

/**
 * A job's payload as a batch item. One that does not parse, or names another performance, is
 * poison: it keeps its place in the order and applies nothing.
 */
export function toBatchJob(seq: number, data: unknown, performanceId: number): BatchJob {
  const parsed = seatJobSchema.safeParse(typeof data === 'string' ? safeJson(data) : data);
  if (!parsed.success || parsed.data.performanceId !== performanceId) return { seq, kind: 'poison' };
  const job = { seq, ...parsed.data } as BatchJob & { performanceId?: number };
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

export type BatchRun = { commit: BatchCommit; jobs: (BatchJob & { enqueuedAt: number })[] };

/**
 * Applies a run of queued jobs in one transaction, in queue order: the running job and the jobs
 * queued right behind it, or (reading ahead, `running` absent) the jobs after `after`, the last
 * sequence this worker applied, of which `skip` may still wait at the head of the queue. At most
 * `max` jobs (and never more than BATCH_MAX_JOBS).
 */
export async function applyQueuedBatch(
  ctx: Context,
  repository: SeatCommitRepository,
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
  const commit = await repository.applyBatch(performanceId, jobs, {
    holdTtlSeconds: ctx.config.holdTtlSeconds,
    maxSeatsPerMember: ctx.config.maxSeatsPerMember,
    ...outbox,
    pendingBetween: (a, b) => ctx.queues.pendingBetween(performanceId, a, b),
    beforeCommit: fault === 'kill-before-commit' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
  });
  return { commit, jobs };
}
