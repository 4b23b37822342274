import type { BestRequest } from '../domain/best-available.js';

/** A recorded hold request, as stored in hold_requests. */
export type RecordedHold = { memberId: number; payload: string; status: string; reason: string | null };

/**
 * Replays hold requests in the order given (their queue order) under the contract's rules and
 * counts the recorded outcomes that differ (`outOfOrder`; 0 means every request was decided exactly as enqueue
 * order dictates; `mismatched` are their indexes) and the seats it leaves taken. Seat check first (all-or-nothing), then the per-member limit.
 */
export function replayHolds(
  inQueueOrder: RecordedHold[],
  maxSeatsPerMember: number,
): { outOfOrder: number; taken: Set<number>; mismatched: number[] } {
  const taken = new Set<number>();
  const owned = new Map<number, number>();
  let wrong = 0;
  const mismatched: number[] = [];
  for (const [i, r] of inQueueOrder.entries()) {
    const seats = (JSON.parse(r.payload) as { seatIds: number[] }).seatIds;
    const n = owned.get(r.memberId) ?? 0;
    let expected: string;
    if (seats.some((s) => taken.has(s))) expected = 'seat-unavailable';
    else if (n + seats.length > maxSeatsPerMember) expected = 'limit-exceeded';
    else {
      expected = 'succeeded';
      seats.forEach((s) => taken.add(s));
      owned.set(r.memberId, n + seats.length);
    }
    if ((r.status === 'succeeded' ? 'succeeded' : r.reason) !== expected) {
      wrong++;
      mismatched.push(i);
    }
  }
  return { outOfOrder: wrong, taken, mismatched };
}

/** One job of a sale in queue order: a recorded request, or a hold's expiry job. */
export type SaleJob =
  | {
      seq: number;
      kind: 'hold';
      requestId: number;
      memberId: number;
      seatIds: number[];
      status: string;
      reason: string | null;
      /** The hold this request created, if it succeeded. */
      holdId: number | null;
      /**
       * Best available: the worker picked the seats (`seatIds` are the hold's, empty if rejected).
       * The picks are not replayed here: a rejection for want of seats is taken as recorded, and
       * best-replay.ts checks the picks and those rejections.
       */
      best?: BestRequest;
    }
  | {
      seq: number;
      kind: 'confirm' | 'release';
      requestId: number;
      memberId: number;
      holdId: number;
      status: string;
      reason: string | null;
      createdAt: Date;
    }
  | { seq: number; kind: 'expire'; holdId: number };

export type SaleReplay = {
  /** Requests whose recorded outcome differs from the one-at-a-time replay in queue order. */
  outOfOrder: number;
  /** The first few of them, to print. */
  examples: string[];
  /** Seats asked for by two hold requests or more, and the hold requests that asked for them. */
  contendedSeats: number;
  contendedRequests: number;
  /** Final status of each hold by the replay. */
  holds: Map<number, 'held' | 'confirmed' | 'released' | 'expired'>;
};

/**
 * A whole sale replayed one job at a time in queue order under the contract's rules, independently
 * of the worker's code: holds (all-or-nothing, then the per-member limit), confirms (a live hold of
 * the member, asked before it expired), releases, and expiry jobs (a hold still held expires). The
 * state follows what was recorded, so one wrong outcome is counted once and does not cascade.
 */
export function replaySale(
  inQueueOrder: SaleJob[],
  maxSeatsPerMember: number,
  expiresAt: ReadonlyMap<number, Date>,
): SaleReplay {
  const seatOwner = new Map<number, number>();
  const holds = new Map<number, { memberId: number; seatIds: number[]; status: string }>();
  const owned = new Map<number, number>();
  const askers = new Map<number, number>();
  const out: SaleReplay = {
    outOfOrder: 0,
    examples: [],
    contendedSeats: 0,
    contendedRequests: 0,
    holds: new Map(),
  };
  const wrong = (job: SaleJob, expected: string, got: string) => {
    out.outOfOrder++;
    if (out.examples.length < 5)
      out.examples.push(`job ${job.seq} (${job.kind}): expected ${expected}, recorded ${got}`);
  };
  const end = (holdId: number, status: 'released' | 'expired') => {
    const h = holds.get(holdId)!;
    h.status = status;
    h.seatIds.forEach((s) => seatOwner.delete(s));
    owned.set(h.memberId, (owned.get(h.memberId) ?? 0) - h.seatIds.length);
  };
  for (const job of inQueueOrder) {
    if (job.kind === 'expire') {
      if (holds.get(job.holdId)?.status === 'held') end(job.holdId, 'expired');
      continue;
    }
    const got = job.status === 'succeeded' ? 'succeeded' : (job.reason ?? job.status);
    if (job.kind === 'hold') {
      job.seatIds.forEach((s) => askers.set(s, (askers.get(s) ?? 0) + 1));
      const n = owned.get(job.memberId) ?? 0;
      const pickFailed = !!job.best && (got === 'no-seats-together' || got === 'seat-unavailable');
      const expected = pickFailed
        ? got
        : job.best && got !== 'succeeded'
          ? n + job.best.count > maxSeatsPerMember
            ? 'limit-exceeded'
            : 'succeeded'
          : job.seatIds.some((s) => seatOwner.has(s))
            ? 'seat-unavailable'
            : n + job.seatIds.length > maxSeatsPerMember
              ? 'limit-exceeded'
              : 'succeeded';
      if (expected !== got) wrong(job, expected, got);
      if (got === 'succeeded' && job.holdId !== null) {
        holds.set(job.holdId, { memberId: job.memberId, seatIds: job.seatIds, status: 'held' });
        job.seatIds.forEach((s) => seatOwner.set(s, job.holdId!));
        owned.set(job.memberId, n + job.seatIds.length);
      }
      continue;
    }
    const h = holds.get(job.holdId);
    let expected: string;
    if (!h || h.memberId !== job.memberId) expected = 'hold-not-found';
    else if (h.status === 'expired') expected = 'hold-expired';
    else if (h.status !== 'held') expected = 'hold-not-found';
    else if (job.kind === 'confirm' && job.createdAt.getTime() >= (expiresAt.get(job.holdId)?.getTime() ?? 0))
      expected = 'hold-expired';
    else expected = 'succeeded';
    if (expected !== got) wrong(job, expected, got);
    if (got === 'succeeded' && h) {
      if (job.kind === 'release') end(job.holdId, 'released');
      else h.status = 'confirmed';
    }
  }
  const contended = new Set([...askers].filter(([, n]) => n > 1).map(([s]) => s));
  out.contendedSeats = contended.size;
  out.contendedRequests = inQueueOrder.filter(
    (j) => j.kind === 'hold' && j.seatIds.some((s) => contended.has(s)),
  ).length;
  for (const [id, h] of holds) out.holds.set(id, h.status as 'held' | 'confirmed' | 'released' | 'expired');
  return out;
}
