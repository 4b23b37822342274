import test from 'ava';
import type { LayoutSeat } from '../shared/domain/best-available.js';
import { replayBestAvailable } from '../shared/testing/best-replay.js';
import type { SaleJob } from '../shared/testing/replay.js';

// The simulator's best-available check on hand-built sales: one zone, rows of numbered seats; seat
// id = row·100 + number (row A seat 3 is 103). Member limit 4.
function rowsOf(...lengths: number[]): LayoutSeat[] {
  return lengths.flatMap((n, r) =>
    Array.from({ length: n }, (_, i) => ({
      id: (r + 1) * 100 + i + 1,
      zoneId: 1,
      gradeId: 1,
      row: String.fromCharCode(65 + r),
      number: i + 1,
    })),
  );
}
let seq = 0;
const named = (memberId: number, seatIds: number[], holdId: number): SaleJob => ({
  seq: ++seq,
  kind: 'hold',
  requestId: seq,
  memberId,
  seatIds,
  status: 'succeeded',
  reason: null,
  holdId,
});
const best = (
  memberId: number,
  count: number,
  got: number[] | string,
  holdId: number | null = null,
  together = count > 1,
): SaleJob => ({
  seq: ++seq,
  kind: 'hold',
  requestId: seq,
  memberId,
  seatIds: typeof got === 'string' ? [] : got,
  status: typeof got === 'string' ? 'rejected' : 'succeeded',
  reason: typeof got === 'string' ? got : null,
  holdId,
  best: { count, ...(together ? { together: true } : {}) },
});
const replay = (seats: LayoutSeat[], jobs: SaleJob[]) => replayBestAvailable(jobs, seats, [1], 4);

test('when best available refuses a request whose seats were free at its turn, then the replay counts it', (t) => {
  const row = rowsOf(6);
  t.is(replay(row, [best(1, 2, 'seat-unavailable')]).refusedWhileAvailable, 1);
  t.is(replay(row, [best(1, 2, 'no-seats-together')]).refusedWhileAvailable, 1);
  // Four free seats, none side by side: refused rightly, for want of seats together.
  const apart = [named(9, [102], 1), named(9, [104], 2), named(8, [106], 3)];
  const r = replay(row, [...apart, best(1, 2, 'no-seats-together')]);
  t.like(r, { refusedWhileAvailable: 0, wrongReason: 0, refusedWithSeatsLeft: { notTogether: 1 } });
  // ... and apart they could have had them.
  t.is(replay(row, [...apart, best(1, 2, 'seat-unavailable', null, false)]).refusedWhileAvailable, 1);
});

test('when the reason names the wrong want, or the limit is blamed while the member had room, then the replay counts it', (t) => {
  const row = rowsOf(3);
  const twoTaken = [named(9, [101, 102], 1)];
  // One seat left, two asked for together: seat-unavailable, not no-seats-together.
  t.is(replay(row, [...twoTaken, best(1, 2, 'no-seats-together')]).wrongReason, 1);
  t.like(replay(row, [...twoTaken, best(1, 2, 'seat-unavailable')]), {
    wrongReason: 0,
    refusedWhileAvailable: 0,
    refusedWithSeatsLeft: { fewerThanAsked: 1 },
  });
  t.is(replay(row, [best(1, 2, 'limit-exceeded')]).refusedWhileAvailable, 1);
  const full = [named(1, [101], 1), named(1, [102], 2), named(1, [103], 3)];
  t.like(replay(rowsOf(3, 3), [...full, best(1, 2, 'limit-exceeded')]), {
    refusedWhileAvailable: 0,
    refusedWithSeatsLeft: { overLimit: 1 },
  });
});

test('when a grant’s seats differ from the picking re-run at its turn, or leave an avoidable single seat, then the replay counts them', (t) => {
  const row = rowsOf(7);
  // A free row of 7: the picking gives 103-104 (closest to the centre, the lower of a tie).
  t.like(replay(row, [best(1, 2, [103, 104], 1)]), { picksDiffer: 0, gapsLeft: { avoidable: 0, forced: 0 } });
  t.is(replay(row, [best(1, 2, [101, 102], 1)]).picksDiffer, 1);
  // Seat 1 taken: 103-104 would leave 102 alone between taken seats; 104-105 does not.
  const wrong = replay(row, [named(9, [101], 1), best(1, 2, [103, 104], 2)]);
  t.like(wrong, {
    picksDiffer: 1,
    gapsLeft: { avoidable: 1, forced: 0 },
    loneAtEnd: { total: 1, byBest: 1, byBestAvoidable: 1 },
  });
  t.like(replay(row, [named(9, [101], 1), best(1, 2, [104, 105], 2)]), {
    picksDiffer: 0,
    gapsLeft: { avoidable: 0 },
    loneAtEnd: { total: 0 },
  });
});

test('when every run of the row leaves a single seat, then the replay calls it forced, and a seat freed later ends it', (t) => {
  const row = rowsOf(5);
  // 101 and 105 taken: 102-103 leaves 104 alone, 103-104 leaves 102 alone.
  const ends = [named(9, [101], 1), named(8, [105], 2)];
  const forced = replay(row, [...ends, best(1, 2, [102, 103], 3)]);
  t.like(forced, {
    picksDiffer: 0,
    gapsLeft: { avoidable: 0, forced: 1 },
    loneAtEnd: { total: 1, byBest: 1, byBestAvoidable: 0 },
  });
  const freed = replay(row, [...ends, best(1, 2, [102, 103], 3), { seq: ++seq, kind: 'expire', holdId: 2 }]);
  t.like(freed.loneAtEnd, { total: 0, byBest: 0 });
  // A named hold that makes a single seat is not best available's.
  t.like(replay(row, [named(9, [101], 1), named(8, [103], 2)]).loneAtEnd, { total: 1, byBest: 0 });
});
