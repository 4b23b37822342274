import { Queue } from 'bullmq';
import { loadScript, runScript, type RedisClient } from '../redis.js';
import { performanceQueueName, queueKeys, queuePrefix, queueRegistryKey, type QueueKeys } from './names.js';
import { requestJobOptions, type ExpireJob, type RequestJob } from './jobs.js';
import { queuePosition } from '../domain/holds.js';
import { tracing } from '../tracing/tracing.js';

const TAKE_BATCH = loadScript(new URL('./lua/take-batch.lua', import.meta.url));
const STANDING = loadScript(new URL('./lua/standing.lua', import.meta.url));
const PENDING_BETWEEN = loadScript(new URL('./lua/pending-between.lua', import.meta.url));
const RESTORE = loadScript(new URL('./lua/restore.lua', import.meta.url));
const FINISH = loadScript(new URL('./lua/finish.lua', import.meta.url));
const DUE_EXPIRIES = loadScript(new URL('./lua/due-expiries.lua', import.meta.url));

/** Redis lost this queue's state (its epoch is gone): nothing runs until a restore. Retried in place. */
export class QueueStateLostError extends Error {
  override name = 'QueueStateLostError';
  constructor(performanceId: number) {
    super(`the queue of performance ${performanceId} lost its Redis state; waiting for its restore`);
  }
}

/** A job taken for a batch: its sequence, raw payload, enqueue time and (tracing on) trace context. */
export type TakenJob = { seq: number; data: string; enqueuedAt: number; tm?: string };

/** BullMQ's propagation metadata from a job's stored options, if it has any. */
function traceMetadataOf(opts: string): string | undefined {
  try {
    const tm: unknown = (JSON.parse(opts) as { tm?: unknown }).tm;
    return typeof tm === 'string' ? tm : undefined;
  } catch {
    return undefined;
  }
}

export type QueueMarks = { started: number; applied: number; epoch: boolean };

/** Where a job stands: final (its batch committed), processing (a worker took it), or waiting. */
export type Standing = { final: boolean; processing: boolean; position: number | undefined };

export function standingOf(seq: number, m: QueueMarks): Standing {
  if (seq <= m.applied) return { final: true, processing: false, position: undefined };
  if (seq <= m.started) return { final: false, processing: true, position: undefined };
  return { final: false, processing: false, position: queuePosition(seq, m.started) };
}

/**
 * Owns every performance's BullMQ queue in a process: creates it once with global concurrency 1,
 * registers it for the workers, answers O(1) queue positions, and hands workers the jobs queued
 * behind the running one. Every job id is the queue's next sequence number.
 */
export class PerformanceQueues {
  private readonly queues = new Map<number, Promise<Queue>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  keys(performanceId: number): QueueKeys {
    return queueKeys(this.keyPrefix, performanceId);
  }

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
      // Tracing on: each enqueue is a producer span whose context travels in the job (bullmq-otel).
      telemetry: tracing()?.telemetry,
    });
    queue.on('error', () => undefined); // surfaced through the calls that fail
    await this.register(performanceId, queue);
    return queue;
  }

  /** Global concurrency 1 and the registry entry: what workers need to serve the queue, in order. */
  async register(performanceId: number, queue?: Queue): Promise<void> {
    await (queue ?? (await this.get(performanceId))).setGlobalConcurrency(1);
    await this.redis.sadd(queueRegistryKey(this.keyPrefix), String(performanceId));
  }

  /** Marks a new performance's queue state as present (see `epoch`). */
  async markFresh(performanceId: number): Promise<void> {
    await this.redis.set(this.keys(performanceId).epoch, String(Date.now()), 'NX');
  }

  /** Adds a request job; its auto-generated id is its queue sequence, assigned atomically with the push. */
  async enqueue(job: RequestJob): Promise<number> {
    const queue = await this.get(job.performanceId);
    return Number((await queue.add(job.kind, job, requestJobOptions)).id);
  }

  /** Request jobs added in one go, in this order (a recovery); returns their sequences. */
  async enqueueAll(performanceId: number, jobs: RequestJob[]): Promise<number[]> {
    if (!jobs.length) return [];
    const queue = await this.get(performanceId);
    const added = await queue.addBulk(
      jobs.map((data) => ({ name: data.kind, data, opts: requestJobOptions })),
    );
    return added.map((j) => Number(j.id));
  }

  /** The queue's marks, in one round trip: what positions and final states are read against. */
  async marks(performanceId: number): Promise<QueueMarks> {
    const k = this.keys(performanceId);
    const [started, applied, epoch] = (await runScript(
      this.redis,
      STANDING,
      [k.started, k.applied, k.epoch],
      [],
    )) as [number, number, number];
    return { started, applied, epoch: epoch === 1 };
  }

  /**
   * Where the job with sequence `seq` stands: final once its batch committed, `processing` once a
   * worker took it, else `position` = 1 + the jobs ahead of it (every job between the highest
   * sequence a worker took and its own: each holds one sequence number).
   */
  async standing(performanceId: number, seq: number): Promise<Standing> {
    return standingOf(seq, await this.marks(performanceId));
  }

  /**
   * After a batch's commit, in one step: the applied mark moves up to `lastSeq`, then `message`
   * goes out on `channel`.
   */
  async finish(performanceId: number, lastSeq: number, channel: string, message: string): Promise<void> {
    await runScript(
      this.redis,
      FINISH,
      [this.keys(performanceId).applied],
      [String(lastSeq), channel, message],
    );
  }

  /**
   * Up to `max` jobs queued after sequence `after` (the running job, or the last one a worker
   * applied ahead; `skip` applied jobs may still wait at the head), next first, with their raw
   * payloads; records that a worker has taken them (positions count from the highest). With `max`
   * 0 it only records `after`.
   */
  async takeBatch(performanceId: number, after: number, max: number, skip = 0): Promise<TakenJob[]> {
    const k = this.keys(performanceId);
    // With the queue's telemetry on, each job's options come too: they carry its trace context (`tm`).
    const traced = tracing()?.telemetry !== undefined;
    const flat = (await runScript(
      this.redis,
      TAKE_BATCH,
      [k.wait, k.started, k.epoch, k.meta, k.id],
      [k.job, String(max), String(after), String(skip), traced ? '1' : '0'],
    )) as (string | number)[];
    if (Number(flat[0]) !== 1) throw new QueueStateLostError(performanceId);
    const out: TakenJob[] = [];
    const stride = traced ? 4 : 3;
    for (let i = 1; i < flat.length; i += stride) {
      const job: TakenJob = {
        seq: Number(flat[i]),
        data: String(flat[i + 1] ?? ''),
        enqueuedAt: Number(flat[i + 2]),
      };
      if (traced) job.tm = traceMetadataOf(String(flat[i + 3] ?? ''));
      out.push(job);
    }
    return out;
  }

  /**
   * The token of the BullMQ lock on job `seq` (null once it expired or the job finished): the
   * worker whose token it is runs the job; any other holds a stale copy.
   */
  async jobLock(performanceId: number, seq: number): Promise<string | null> {
    return this.redis.get(`${this.keys(performanceId).job}${seq}:lock`);
  }

  /** True if a job with a sequence in [from, to] is still waiting or running. */
  async pendingBetween(performanceId: number, from: number, to: number): Promise<boolean> {
    const k = this.keys(performanceId);
    // The job keys share the queue's hash slot; KEYS[1] routes the call to it in a Cluster.
    return (await runScript(this.redis, PENDING_BETWEEN, [k.wait], [k.job, String(from), String(to)])) === 1;
  }

  /** Schedules holds' expiry jobs: each joins the queue when its time comes. Idempotent. */
  async scheduleExpiries(performanceId: number, expiries: [holdId: number, atMs: number][]): Promise<void> {
    if (!expiries.length) return;
    await this.redis.zadd(this.keys(performanceId).expiries, ...expiries.flatMap(([id, at]) => [at, id]));
  }

  /**
   * Turns due expiries into jobs at the back of the queue (so they take a sequence like any other
   * job), one process at a time. A crash between the add and the removal only duplicates an expiry
   * job, which finds its hold ended and does nothing.
   */
  async releaseDueExpiries(performanceId: number, now = Date.now(), limit = 500): Promise<number> {
    const k = this.keys(performanceId);
    const due = () => runScript(this.redis, DUE_EXPIRIES, [k.expiries], [String(now), String(limit)]);
    // Most ticks find nothing due: one read, and the lock only when there is work.
    if (!((await due()) as string[]).length) return 0;
    if (!(await this.redis.set(k.expiryLock, '1', 'PX', 5000, 'NX'))) return 0;
    try {
      const holds = (await due()) as string[];
      if (!holds.length) return 0;
      const queue = await this.get(performanceId);
      const jobs: ExpireJob[] = holds.map((id) => ({ kind: 'expire', performanceId, holdId: Number(id) }));
      await queue.addBulk(jobs.map((data) => ({ name: 'expire', data, opts: requestJobOptions })));
      await this.redis.zrem(k.expiries, ...holds);
      return holds.length;
    } finally {
      await this.redis.del(k.expiryLock);
    }
  }

  /**
   * After Redis lost this queue: job ids go on above `fence` and above every id handed out so far,
   * which become void. Returns that floor.
   */
  async restoreSequence(performanceId: number, fence: number): Promise<number> {
    const k = this.keys(performanceId);
    return Number(await runScript(this.redis, RESTORE, [k.id, k.started, k.applied], [String(fence)]));
  }

  /** What tells a worker that Redis lost this queue's state: no epoch, or no global concurrency. */
  async health(performanceId: number): Promise<{ epoch: boolean; concurrency: boolean; lastId: number }> {
    const k = this.keys(performanceId);
    const [epoch, concurrency, lastId] = await Promise.all([
      this.redis.exists(k.epoch),
      this.redis.hget(k.meta, 'concurrency'),
      this.redis.get(k.id),
    ]);
    return { epoch: epoch === 1, concurrency: concurrency !== null, lastId: Number(lastId ?? 0) };
  }

  async markRestored(performanceId: number): Promise<void> {
    await this.redis.set(this.keys(performanceId).epoch, String(Date.now()));
  }

  /**
   * Puts the queues this process has open back in the registry (with global concurrency 1) if
   * Redis lost them, so that workers, even new ones, serve them again and restore their state.
   */
  async reassert(): Promise<number> {
    const ids = [...this.queues.keys()];
    if (!ids.length) return 0;
    const registry = queueRegistryKey(this.keyPrefix);
    const present = await Promise.all(ids.map((id) => this.redis.sismember(registry, String(id))));
    const lost = ids.filter((_, i) => present[i] !== 1);
    for (const id of lost) await this.register(id);
    return lost.length;
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
