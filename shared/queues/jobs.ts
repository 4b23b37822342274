import { z } from 'zod';
import type { JobsOptions } from 'bullmq';

const id = z.number().int().positive();

/** Best available (contract §3): how many seats, optionally of one zone and grade, side by side. */
export const bestRequestSchema = z.strictObject({
  count: z.number().int().min(1).max(100),
  zoneId: id.optional(),
  gradeId: id.optional(),
  together: z.literal(true).optional(),
});

export const holdJobSchema = z.object({
  kind: z.literal('hold'),
  requestId: id,
  performanceId: id,
  memberId: id,
  /** Exactly one of these: the seats named, or best available picked at the job's turn. */
  seatIds: z.array(id).min(1).max(100).optional(),
  best: bestRequestSchema.optional(),
});
export const confirmJobSchema = z.object({
  kind: z.literal('confirm'),
  requestId: id,
  performanceId: id,
  memberId: id,
  holdId: id,
  authorizationId: z.string().min(1),
});
export const releaseJobSchema = z.object({
  kind: z.literal('release'),
  requestId: id,
  performanceId: id,
  memberId: id,
  holdId: id,
});
export const expireJobSchema = z.object({ kind: z.literal('expire'), performanceId: id, holdId: id });

export const seatJobSchema = z.discriminatedUnion('kind', [
  holdJobSchema,
  confirmJobSchema,
  releaseJobSchema,
  expireJobSchema,
]);

export type BestAvailable = z.infer<typeof bestRequestSchema>;
export type HoldJob = z.infer<typeof holdJobSchema>;
export type ConfirmJob = z.infer<typeof confirmJobSchema>;
export type ReleaseJob = z.infer<typeof releaseJobSchema>;
export type ExpireJob = z.infer<typeof expireJobSchema>;
export type SeatJob = z.infer<typeof seatJobSchema>;
export type RequestJob = HoldJob | ConfirmJob | ReleaseJob;

// attempts: 1 on purpose: a BullMQ retry re-queues at the back and breaks order. Infrastructure
// errors are retried inside the processor instead; a stalled job returns to the head of the queue.
// Expiry jobs use the same options: they are added (not delayed) when due, so that every job on a
// queue holds the next sequence number and the queue stays in sequence order.
export const requestJobOptions: JobsOptions = {
  attempts: 1,
  // Kept by count only: an age limit would cost every completion a scan of the completed set.
  removeOnComplete: { count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The job of a recorded request (its row keeps the payload): for recovery and the sweeper. */
export function requestJobOf(r: {
  id: number;
  kind: RequestJob['kind'];
  performanceId: number;
  memberId: number;
  payload: string;
}): RequestJob {
  const payload = JSON.parse(r.payload) as Record<string, unknown>;
  return seatJobSchema.parse({
    ...payload,
    kind: r.kind,
    requestId: Number(r.id),
    performanceId: Number(r.performanceId),
    memberId: Number(r.memberId),
  }) as RequestJob;
}
