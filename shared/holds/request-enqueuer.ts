import type { RedisClient } from '../redis.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';
import { requestJobOf, type RequestJob } from '../queues/jobs.js';
import type { HoldRequestRepository, RequestRow } from '../db/repositories/hold-request.repository.js';
import { acceptKeys, type AcceptKeys } from './keys.js';

/** How long Redis remembers where a request's job went: long after MySQL has learned it. */
const MARK_SECONDS = 120;
/** How long a recovering process may take to add the job before another may try. */
const RECOVER_CLAIM_MS = 5000;

/**
 * Adds accepted requests' jobs and marks in Redis that they were added, so that a request whose
 * API process died between its insert and its enqueue is found and enqueued once more, by the
 * sweeper or by the client's retry with the same Idempotency-Key, and a request that was enqueued
 * is not added again. A second job can only arise if a process dies in the instant between the add
 * and its mark, or takes longer than the grace the recoverers give it; MySQL fences it (the worker
 * finds the request decided and does nothing), so a request is never applied twice.
 */
export class RequestEnqueuer {
  private readonly keys: AcceptKeys;

  constructor(
    private readonly redis: RedisClient,
    keyPrefix: string,
    private readonly queues: PerformanceQueues,
    private readonly rows: HoldRequestRepository,
  ) {
    this.keys = acceptKeys(keyPrefix);
  }

  /** Adds the job; returns its queue sequence. */
  async enqueue(job: RequestJob): Promise<number> {
    const seq = await this.queues.enqueue(job);
    // Best effort: without the mark a recoverer may add the job once more, which MySQL fences.
    await this.mark(job.performanceId, job.requestId, seq).catch(() => undefined);
    return seq;
  }

  private async mark(performanceId: number, requestId: number, seq: number): Promise<void> {
    await this.redis.set(this.keys.enqueued(performanceId, requestId), String(seq), 'EX', MARK_SECONDS);
  }

  /**
   * For an accepted request MySQL knows no queue sequence of: its sequence if its job was added
   * (recorded in MySQL now), else adds it and returns the new one; undefined while another process
   * is adding it.
   */
  async recover(r: RequestRow): Promise<number | undefined> {
    const key = this.keys.enqueued(r.performanceId, r.id);
    if (!(await this.redis.set(key, 'recovering', 'PX', RECOVER_CLAIM_MS, 'NX'))) {
      const seq = Number(await this.redis.get(key));
      if (!Number.isInteger(seq) || seq <= 0) return undefined;
      await this.rows.setQueueSeqs([[r.id, seq]]);
      return seq;
    }
    let seq: number;
    try {
      seq = await this.queues.enqueue(requestJobOf(r));
    } catch (err) {
      await this.redis.del(key).catch(() => undefined);
      throw err;
    }
    await this.mark(r.performanceId, r.id, seq);
    await this.rows.setQueueSeqs([[r.id, seq]]);
    return seq;
  }
}
