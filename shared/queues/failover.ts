// How fast a performance's queue fails over, all derived from one setting (WORKER_LOCK_SECONDS):
//
// - BullMQ's job lock lasts `lockMs` and is renewed every half of it; its stalled check (two-phase:
//   one run marks the active jobs, the next moves those whose lock is gone back to the head of the
//   queue) runs every `stalledMs`. A dead or frozen holder's job runs elsewhere between lockMs / 2
//   and lockMs + stalledMs after its last renewal.
// - The worker that gets the job takes the performance over in MySQL: it waits for the fence row at
//   most `fenceStaleMs` past the holder's own lock time, polling every `fencePollMs`, then ends the
//   holder's connection (KILL), so a frozen holder's transaction can never commit.
// - After-commit work is leased: its owner renews its outbox claims every `outboxRenewMs`; a claim not
//   renewed for `outboxLeaseMs` is taken over by the next check (every `outboxCheckMs`).

export type FailoverTimings = {
  lockMs: number;
  stalledMs: number;
  fenceStaleMs: number;
  fencePollMs: number;
  outboxLeaseMs: number;
  outboxRenewMs: number;
  outboxCheckMs: number;
};

export function failoverTimings(lockSeconds: number): FailoverTimings {
  const lockMs = lockSeconds * 1000;
  return {
    lockMs,
    stalledMs: Math.max(250, Math.round(lockMs / 4)),
    fenceStaleMs: Math.round((lockMs * 3) / 8),
    fencePollMs: 150,
    outboxLeaseMs: lockMs + 500,
    outboxRenewMs: Math.round(lockMs / 2),
    outboxCheckMs: 500,
  };
}

/** BullMQ waits this long before it asks Redis again after a connection error (its default: 15 s). */
export const RUN_RETRY_DELAY_MS = 250;
