import type { Context } from '../../shared/context.js';
import type { BatchJob } from '../../shared/domain/batch.js';
import { seatJobSchema } from '../../shared/queues/jobs.js';
import type {
  BatchCommit,
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
 * Applies the running job and the jobs queued right behind it (up to the batch limit) in one
 * transaction, in queue order; only jobs in ascending sequence after the running one join it.
 */
export async function applyQueuedBatch(
  ctx: Context,
  repository: SeatCommitRepository,
  performanceId: number,
  running: QueuedJob,
  completed: number[],
): Promise<BatchRun> {
  const behind = await ctx.queues.takeBatch(performanceId, running.seq, ctx.config.batchMaxJobs - 1);
  const taken: QueuedJob[] = [running];
  for (const j of behind) {
    if (j.seq <= taken[taken.length - 1]!.seq) break;
    taken.push(j);
  }
  const jobs = taken.map((j) => ({ ...toBatchJob(j.seq, j.data, performanceId), enqueuedAt: j.enqueuedAt }));
  const fault = ctx.config.faultInjection;
  const commit = await repository.applyBatch(performanceId, jobs, {
    holdTtlSeconds: ctx.config.holdTtlSeconds,
    maxSeatsPerMember: ctx.config.maxSeatsPerMember,
    completed,
    pendingBetween: (from, to) => ctx.queues.pendingBetween(performanceId, from, to),
    beforeCommit: fault === 'kill-before-commit' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
  });
  return { commit, jobs };
}
