import { performanceTag } from '../redis.js';

/**
 * The accept path's Redis key layout, owned here. Keys of one performance carry its hash tag (one
 * Redis Cluster slot with its queue).
 */
export type AcceptKeys = {
  /**
   * One confirm at a time per (member, Idempotency-Key): held while it authorises the payment, so
   * that a twin sent side by side does not authorise too.
   */
  confirmClaim(memberId: number, idempotencyKey: string): string;
  /**
   * Where an accepted request's job went: its queue sequence once added, or `recovering` while a
   * process that found it without a job adds it (see RequestEnqueuer). Lives a couple of minutes,
   * long after MySQL learned the sequence.
   */
  enqueued(performanceId: number, requestId: number): string;
};

export function acceptKeys(keyPrefix: string): AcceptKeys {
  return {
    confirmClaim: (memberId, idempotencyKey) => `${keyPrefix}:confirm-key:${memberId}:${idempotencyKey}`,
    enqueued: (performanceId, requestId) =>
      `${keyPrefix}:${performanceTag(performanceId)}:enqueued:${requestId}`,
  };
}
