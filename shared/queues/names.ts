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

/** Highest queue sequence a worker has started for a performance (for O(1) positions). */
export function startedSeqKey(keyPrefix: string, performanceId: number): string {
  return `${keyPrefix}:${performanceTag(performanceId)}:started`;
}

/**
 * Queue sequences taken by expiry jobs (they share the queue's id counter but are not ahead of
 * anyone until they fire), so positions can leave them out.
 */
export function sideSeqKey(keyPrefix: string, performanceId: number): string {
  return `${keyPrefix}:${performanceTag(performanceId)}:side-seqs`;
}

/** Pub/sub channel on which workers announce finished requests (long-polls wake on it). */
export function requestDoneChannel(keyPrefix: string): string {
  return `${keyPrefix}:requests-done`;
}
