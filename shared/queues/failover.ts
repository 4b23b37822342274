// How fast a performance's queue fails over, all derived from one setting (WORKER_LOCK_SECONDS):
//
// - BullMQ's job lock lasts `lockMs` (3/4 of the setting) and is renewed every `lockRenewMs` (1/4):
//   a renewal may come half the setting late before the lock is lost. Its stalled check (two-phase:
//   one run marks the active jobs, the next moves those whose lock is gone back to the head of the
//   queue) runs every `stalledMs` (1/4). A dead or frozen holder's job is free again between half the
//   setting and the whole setting after the holder stopped (1 to 2 s with the default 2).
// - The worker that gets the job takes the performance over in MySQL: it waits for the fence row at
//   most `fenceStaleMs` past the holder's own lock time, polling every `fencePollMs`, then ends the
//   holder's connection (KILL), so a frozen holder's transaction can never commit.
// - After-commit work is leased: its owner renews its outbox claims every `outboxRenewMs`; a claim not
//   renewed for `outboxLeaseMs` is taken over by the next check (every `outboxCheckMs`).

export type FailoverTimings = {
  lockMs: number;
  lockRenewMs: number;
  stalledMs: number;
  fenceStaleMs: number;
  fencePollMs: number;
  outboxLeaseMs: number;
  outboxRenewMs: number;
  outboxCheckMs: number;
};

export function failoverTimings(lockSeconds: number): FailoverTimings {
  const setting = lockSeconds * 1000;
  return {
    lockMs: Math.round((setting * 3) / 4),
    lockRenewMs: Math.round(setting / 4),
    stalledMs: Math.max(250, Math.round(setting / 4)),
    fenceStaleMs: Math.round((setting * 3) / 8),
    fencePollMs: 150,
    outboxLeaseMs: setting + 500,
    outboxRenewMs: Math.round(setting / 2),
    outboxCheckMs: 500,
  };
}

/** BullMQ waits this long before it asks Redis again after a connection error (its default: 15 s). */
export const RUN_RETRY_DELAY_MS = 250;
