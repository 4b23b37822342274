import { performanceTag } from '../redis.js';

/** BullMQ key prefix; queue keys are `<prefix>:q:{perf-<id>}:...`, one Redis Cluster slot per performance. */
export function queuePrefix(keyPrefix: string): string {
  return `${keyPrefix}:q`;
}

export function performanceQueueName(performanceId: number): string {
  return performanceTag(performanceId);
}

/** The set of performance ids whose queues workers must serve. */
export function queueRegistryKey(keyPrefix: string): string {
  return `${keyPrefix}:performance-queues`;
}

/**
 * Every Redis key of one performance's queue, in one hash slot. BullMQ owns `wait`, `active`,
 * `meta`, `id` and the job hashes (`job` + id); the rest are ours.
 */
export type QueueKeys = {
  wait: string;
  active: string;
  meta: string;
  /** BullMQ's id counter: job ids are the queue's sequence numbers. */
  id: string;
  /** Prefix of a job's hash: `job + id`. */
  job: string;
  /** Highest sequence a worker has taken into a batch (positions count from it). */
  started: string;
  /** The highest sequence whose batch committed (a mirror of MySQL's fence, for positions). */
  applied: string;
  /** holdId -> epoch ms at which the hold's expiry job joins the queue. */
  expiries: string;
  /** Present while Redis holds this queue's state; its absence means Redis lost data. */
  epoch: string;
  /** Held while one process restores the queue after Redis lost data. */
  restoring: string;
  /** Held by the process that turns due expiries into jobs. */
  expiryLock: string;
};

export function queueKeys(keyPrefix: string, performanceId: number): QueueKeys {
  const tag = performanceTag(performanceId);
  const q = `${queuePrefix(keyPrefix)}:${tag}`;
  const own = `${keyPrefix}:${tag}`;
  return {
    wait: `${q}:wait`,
    active: `${q}:active`,
    meta: `${q}:meta`,
    id: `${q}:id`,
    job: `${q}:`,
    started: `${own}:started`,
    applied: `${own}:applied`,
    expiries: `${own}:expiries`,
    epoch: `${own}:epoch`,
    restoring: `${own}:restoring`,
    expiryLock: `${own}:expiry-lock`,
  };
}

/** Pub/sub channel on which workers announce finished requests (long-polls wake on it). */
export function requestDoneChannel(keyPrefix: string): string {
  return `${keyPrefix}:requests-done`;
}
