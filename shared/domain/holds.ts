// Pure rules of holding seats: no framework, no I/O. Both the API (validation) and the workers
// (deciding outcomes) use them.

import type { SeatStatus } from './seats.js';

export type { SeatStatus };
export type HoldStatus = 'held' | 'confirmed' | 'released' | 'expired';
export type RejectReason =
  'seat-unavailable' | 'no-seats-together' | 'limit-exceeded' | 'hold-expired' | 'hold-not-found';

export type Decision = { ok: true } | { ok: false; reason: RejectReason };

/** All-or-nothing: every seat must be available, and the member stays within the per-performance limit. */
export function decideHold(
  seats: readonly { status: SeatStatus }[],
  requestedCount: number,
  memberSeatsAlready: number,
  maxSeatsPerMember: number,
): Decision {
  if (seats.length !== requestedCount || seats.some((s) => s.status !== 'available'))
    return { ok: false, reason: 'seat-unavailable' };
  if (memberSeatsAlready + requestedCount > maxSeatsPerMember) return { ok: false, reason: 'limit-exceeded' };
  return { ok: true };
}

/**
 * A hold can be confirmed by its member while it is live. The request's enqueue time is what counts,
 * so a confirm that entered the queue before the hold's expiry wins even if the queue was slow.
 */
export function decideConfirm(
  hold: { memberId: number; status: HoldStatus; expiresAt: Date } | null,
  memberId: number,
  requestedAt: Date,
): Decision {
  if (!hold || hold.memberId !== memberId) return { ok: false, reason: 'hold-not-found' };
  if (hold.status === 'expired') return { ok: false, reason: 'hold-expired' };
  if (hold.status !== 'held') return { ok: false, reason: 'hold-not-found' };
  if (requestedAt.getTime() >= hold.expiresAt.getTime()) return { ok: false, reason: 'hold-expired' };
  return { ok: true };
}

export function decideRelease(
  hold: { memberId: number; status: HoldStatus } | null,
  memberId: number,
): Decision {
  if (!hold || hold.memberId !== memberId) return { ok: false, reason: 'hold-not-found' };
  if (hold.status === 'expired') return { ok: false, reason: 'hold-expired' };
  if (hold.status !== 'held') return { ok: false, reason: 'hold-not-found' };
  return { ok: true };
}

/** An expiry job expires a hold only if it is still held when the job runs. */
export function shouldExpire(hold: { status: HoldStatus; expiresAt: Date } | null, now: Date): boolean {
  return !!hold && hold.status === 'held' && hold.expiresAt.getTime() <= now.getTime() + 1000;
}

export function holdExpiry(now: Date, ttlSeconds: number): Date {
  return new Date(now.getTime() + ttlSeconds * 1000);
}

/** 1 + jobs ahead, from the job's queue sequence and the highest sequence a worker has started. */
export function queuePosition(seq: number, lastStarted: number): number {
  return Math.max(1, seq - lastStarted);
}

/** Seats ids must be distinct; returns the duplicated ones. */
export function duplicatedIds(ids: readonly number[]): number[] {
  const seen = new Set<number>();
  const dup = new Set<number>();
  for (const id of ids) (seen.has(id) ? dup : seen).add(id);
  return [...dup];
}
