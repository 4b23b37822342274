/** A recorded hold request, as stored in hold_requests. */
export type RecordedHold = { memberId: number; payload: string; status: string; reason: string | null };

/**
 * Replays hold requests in the order given (their queue order) under the contract's rules and
 * counts the recorded outcomes that differ (`outOfOrder`; 0 means every request was decided exactly as enqueue
 * order dictates) and the seats it leaves taken. Seat check first (all-or-nothing), then the per-member limit.
 */
export function replayHolds(
  inQueueOrder: RecordedHold[],
  maxSeatsPerMember: number,
): { outOfOrder: number; taken: Set<number> } {
  const taken = new Set<number>();
  const owned = new Map<number, number>();
  let wrong = 0;
  for (const r of inQueueOrder) {
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
    if ((r.status === 'succeeded' ? 'succeeded' : r.reason) !== expected) wrong++;
  }
  return { outOfOrder: wrong, taken };
}
