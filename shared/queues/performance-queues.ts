import { Queue } from 'bullmq';
import { defineScript, runScript, type RedisClient } from '../redis.js';
import { performanceQueueName, queuePrefix, queueRegistryKey, sideSeqKey, startedSeqKey } from './names.js';
import { requestJobOptions, type RequestJob, expireJobOptions, type ExpireJob } from './jobs.js';
import { queuePosition } from '../domain/holds.js';

/**
 * Owns every performance's BullMQ queue in a process: creates it once with global concurrency 1,
 * registers it for the workers, and answers O(1) queue positions.
 */
export class PerformanceQueues {
  private readonly queues = new Map<number, Promise<Queue>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  get(performanceId: number): Promise<Queue> {
    let q = this.queues.get(performanceId);
    if (!q) {
      q = this.open(performanceId);
      this.queues.set(performanceId, q);
      q.catch(() => this.queues.delete(performanceId));
    }
    return q;
  }

  private async open(performanceId: number): Promise<Queue> {
    const queue = new Queue(performanceQueueName(performanceId), {
      connection: this.redis,
      prefix: queuePrefix(this.keyPrefix),
      defaultJobOptions: requestJobOptions,
    });
    queue.on('error', () => undefined); // surfaced through the calls that fail
    await queue.setGlobalConcurrency(1);
    await this.redis.sadd(queueRegistryKey(this.keyPrefix), String(performanceId));
    return queue;
  }

  /** Adds a request job; its auto-generated id is the queue sequence (assigned atomically with the push). */
  async addRequest(job: RequestJob): Promise<number> {
    const queue = await this.get(job.performanceId);
    const added = await queue.add(job.kind, job, requestJobOptions);
    return Number(added.id);
  }

  /** Adds an expiry job and records its sequence as one that is ahead of nobody. */
  async addExpiry(job: ExpireJob, delayMs: number): Promise<void> {
    const queue = await this.get(job.performanceId);
    const added = await queue.add('expire', job, expireJobOptions(delayMs));
    await this.redis.zadd(sideSeqKey(this.keyPrefix, job.performanceId), Number(added.id), String(added.id));
  }

  /**
   * Where a queued request with this sequence stands, in one round trip: the highest sequence a
   * worker has started, and `position` = 1 + request jobs ahead (expiry jobs that took a sequence
   * in between are left out: they sit in the delayed set, ahead of nobody).
   */
  async standing(performanceId: number, seq: number): Promise<{ lastStarted: number; position: number }> {
    const [lastStarted, side] = (await runScript(
      this.redis,
      STANDING,
      [startedSeqKey(this.keyPrefix, performanceId), sideSeqKey(this.keyPrefix, performanceId)],
      [String(seq)],
    )) as [number, number];
    return { lastStarted, position: queuePosition(seq - side, lastStarted) };
  }

  async registeredPerformanceIds(): Promise<number[]> {
    return (await this.redis.smembers(queueRegistryKey(this.keyPrefix))).map(Number).filter(Number.isInteger);
  }

  async close(): Promise<void> {
    const qs = await Promise.allSettled(this.queues.values());
    await Promise.all(qs.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    this.queues.clear();
  }
}

const MARK_STARTED = defineScript(`
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > c then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
end
return 1`);

const STANDING = defineScript(`
local started = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
local side = 0
if seq - 1 > started then side = redis.call('ZCOUNT', KEYS[2], started + 1, seq - 1) end
return {started, side}`);

/** Records that a worker started the job with this sequence; only ever moves forward. */
export async function markStarted(redis: RedisClient, keyPrefix: string, performanceId: number, seq: number) {
  await runScript(
    redis,
    MARK_STARTED,
    [startedSeqKey(keyPrefix, performanceId), sideSeqKey(keyPrefix, performanceId)],
    [String(seq)],
  );
}
