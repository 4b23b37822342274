import test from 'ava';
import { planBatch, type BatchJob, type BatchSnapshot, type KnownHold } from '../shared/domain/batch.js';
import { SeatLayout, SeatStock, type BestRequest, type LayoutSeat } from '../shared/domain/best-available.js';
import type { SeatStatus } from '../shared/domain/seats.js';

// Small hand-built venues: a row is a string, one character a seat numbered from 1: `.` free, `x`
// taken. Seat ids read as zone·row·number: zone 1, row B (index 1), seat 7 is 1207.
type Zone = { id: number; rows: string[]; grade?: (row: number) => number };

function venue(zones: Zone[], rank?: number[]): { stock: SeatStock; seats: LayoutSeat[] } {
  const seats: LayoutSeat[] = [];
  const taken = new Set<number>();
  for (const z of zones)
    z.rows.forEach((row, r) =>
      [...row].forEach((c, i) => {
        const id = z.id * 1000 + (r + 1) * 100 + i + 1;
        seats.push({
          id,
          zoneId: z.id,
          gradeId: z.grade?.(r) ?? 1,
          row: String.fromCharCode(65 + r),
          number: i + 1,
        });
        if (c === 'x') taken.add(id);
      }),
    );
  const layout = new SeatLayout(seats, new Map((rank ?? zones.map((z) => z.id)).map((z, i) => [z, i])));
  return { stock: SeatStock.of(layout, (id) => (taken.has(id) ? 'held' : 'available')), seats };
}

const pick = (stock: SeatStock, req: BestRequest) => stock.pick(req);

test('when a row is free, then best available takes the seats closest to its centre (ties: lower numbers)', (t) => {
  const { stock } = venue([{ id: 1, rows: ['..........'] }]);
  t.deepEqual(pick(stock, { count: 2, together: true }), { ok: true, seatIds: [1105, 1106] });
  t.deepEqual(pick(stock, { count: 3, together: true }), { ok: true, seatIds: [1104, 1105, 1106] });
  t.deepEqual(pick(stock, { count: 1 }), { ok: true, seatIds: [1105] });
});

test('when the front row has no run long enough, then the next row back gives the seats', (t) => {
  const { stock } = venue([{ id: 1, rows: ['xxxx..xxxx', '..........'] }]);
  t.deepEqual(pick(stock, { count: 2, together: true }), { ok: true, seatIds: [1105, 1106] });
  t.deepEqual(pick(stock, { count: 3, together: true }), { ok: true, seatIds: [1204, 1205, 1206] });
});

test('when zones are ranked, then the first zone by rank is filled first; a zone or grade filter narrows it', (t) => {
  const zones: Zone[] = [
    { id: 1, rows: ['....'] },
    { id: 2, rows: ['....', '....'], grade: (r) => (r === 0 ? 7 : 8) },
  ];
  t.deepEqual(pick(venue(zones).stock, { count: 2, together: true }), {
    ok: true,
    seatIds: [1102, 1103],
  });
  t.deepEqual(pick(venue(zones, [2, 1]).stock, { count: 2 }), { ok: true, seatIds: [2102, 2103] });
  t.deepEqual(pick(venue(zones).stock, { count: 2, zoneId: 2, gradeId: 8 }), {
    ok: true,
    seatIds: [2202, 2203],
  });
});

test('when the centred run would leave one empty seat between taken ones, then an equally good row choice that leaves none wins', (t) => {
  // Free 4..10, centre 5.5: 5-6 would strand seat 4 between 3 and 5; 4-5 and 6-7 leave no single seat.
  const { stock } = venue([{ id: 1, rows: ['xxx.......'] }]);
  t.deepEqual(pick(stock, { count: 2, together: true }), { ok: true, seatIds: [1104, 1105] });
});

test('when every run of the best row leaves a single seat, then the row still wins and the single seat is left', (t) => {
  const { stock } = venue([{ id: 1, rows: ['x...x', '.....'] }]);
  t.deepEqual(pick(stock, { count: 2, together: true }), { ok: true, seatIds: [1102, 1103] });
});

test('when seats remain only apart, then together is rejected no-seats-together, apart takes them, and too few is seat-unavailable', (t) => {
  const { stock } = venue([{ id: 1, rows: ['x.x.x'] }]);
  t.deepEqual(pick(stock, { count: 2, together: true }), { ok: false, reason: 'no-seats-together' });
  t.deepEqual(pick(stock, { count: 2 }), { ok: true, seatIds: [1102, 1104] });
  t.deepEqual(pick(stock, { count: 3 }), { ok: false, reason: 'seat-unavailable' });
  t.deepEqual(pick(stock, { count: 3, together: true }), { ok: false, reason: 'seat-unavailable' });
});

// --- the planner: a batch with best-available holds decides exactly as one job at a time ---------

function snapshotOf(seats: LayoutSeat[], stock: SeatStock): BatchSnapshot {
  return {
    now: new Date('2030-01-01T00:00:00Z'),
    holdTtlSeconds: 300,
    maxSeatsPerMember: 4,
    requests: new Map(
      Array.from({ length: 20 }, (_, i) => [
        100 + i,
        { status: 'queued', createdAt: new Date('2029-12-31T23:59:00Z') },
      ]),
    ),
    seats: new Map(seats.map((s) => [s.id, stock.status(s.id)!])),
    memberSeats: new Map(),
    holds: new Map(),
    payments: new Map(),
    stock,
  };
}

/** Applies one job's plan to a snapshot: what the next job, in its own transaction, would read. */
function fold(s: BatchSnapshot, plan: ReturnType<typeof planBatch>, nextHoldId: () => number): BatchSnapshot {
  const seats = new Map(s.seats);
  const stock = s.stock!.clone();
  const holds = new Map([...s.holds].map(([id, h]) => [id, { ...h }]));
  const memberSeats = new Map(s.memberSeats);
  const requests = new Map(s.requests);
  for (const c of plan.seatChanges) {
    seats.set(c.seatId, c.status);
    stock.set(c.seatId, c.status);
  }
  for (const h of plan.newHolds) {
    const id = nextHoldId();
    holds.set(id, { id, memberId: h.memberId, status: 'held', expiresAt: h.expiresAt, seatIds: h.seatIds });
    memberSeats.set(h.memberId, (memberSeats.get(h.memberId) ?? 0) + h.seatIds.length);
  }
  for (const [id, status] of plan.holdUpdates) {
    const h = holds.get(id)!;
    h.status = status;
    if (status !== 'confirmed')
      memberSeats.set(h.memberId, (memberSeats.get(h.memberId) ?? 0) - h.seatIds.length);
  }
  for (const r of plan.results)
    if (r.requestId && r.outcome !== 'duplicate' && r.outcome !== 'skipped')
      requests.set(r.requestId, {
        status: r.outcome === 'succeeded' ? 'succeeded' : 'rejected',
        createdAt: s.now,
      });
  return { ...s, seats, stock, holds, memberSeats, requests };
}

test('when a batch mixes explicit and best-available holds, releases and expiries, then it decides exactly as one job at a time', (t) => {
  const { stock, seats } = venue([{ id: 1, rows: ['......', '......'] }]);
  // Holds 1 and 2 exist before the batch: member 9 holds 1103-1104 (expired), member 8 holds 1201.
  const held: KnownHold[] = [
    {
      id: 1,
      memberId: 9,
      status: 'held',
      expiresAt: new Date('2029-12-31T23:00:00Z'),
      seatIds: [1103, 1104],
    },
    { id: 2, memberId: 8, status: 'held', expiresAt: new Date('2030-01-01T00:05:00Z'), seatIds: [1201] },
  ];
  for (const h of held) for (const id of h.seatIds) stock.set(id, 'held');
  const base = snapshotOf(seats, stock);
  const start: BatchSnapshot = {
    ...base,
    holds: new Map(held.map((h) => [h.id, h])),
    memberSeats: new Map([
      [9, 2],
      [8, 1],
    ]),
  };
  const best = (seq: number, memberId: number, b: BestRequest): BatchJob => ({
    seq,
    kind: 'hold',
    requestId: 100 + seq,
    memberId,
    seatIds: [],
    best: b,
  });
  const jobs: BatchJob[] = [
    best(1, 1, { count: 2, together: true }), // row A: 1101-1102 or 1105-1106 (centre blocked)
    { seq: 2, kind: 'hold', requestId: 102, memberId: 2, seatIds: [1105] },
    { seq: 3, kind: 'expire', holdId: 1 }, // frees 1103-1104
    best(4, 3, { count: 2, together: true }), // the freed centre
    best(5, 4, { count: 3, together: true }), // row A full enough: row B, beside member 8's seat
    { seq: 6, kind: 'release', requestId: 106, memberId: 8, holdId: 2 },
    best(7, 5, { count: 3, together: true }), // 4 seats left, no 3 side by side
    best(8, 1, { count: 3 }), // member 1 already holds 2: limit
    { seq: 9, kind: 'hold', requestId: 109, memberId: 6, seatIds: [1101] }, // taken by job 1?
    best(10, 7, { count: 1 }),
  ];
  const batch = planBatch(jobs, start);
  let s = start;
  let holdId = 100;
  const one: { outcome: string; seats?: number[] }[] = [];
  for (const job of jobs) {
    const plan = planBatch([job], s);
    const r = plan.results[0]!;
    const created = r.hold && 'created' in r.hold ? plan.newHolds[r.hold.created] : undefined;
    one.push({ outcome: r.outcome, ...(created ? { seats: created.seatIds } : {}) });
    s = fold(s, plan, () => ++holdId);
  }
  const batched = batch.results.map((r) => {
    const created = r.hold && 'created' in r.hold ? batch.newHolds[r.hold.created] : undefined;
    return { outcome: r.outcome, ...(created ? { seats: created.seatIds } : {}) };
  });
  t.deepEqual(batched, one);
  t.deepEqual(one, [
    { outcome: 'succeeded', seats: [1101, 1102] },
    { outcome: 'succeeded', seats: [1105] },
    { outcome: 'succeeded' },
    { outcome: 'succeeded', seats: [1103, 1104] },
    { outcome: 'succeeded', seats: [1202, 1203, 1204] },
    { outcome: 'succeeded' },
    { outcome: 'no-seats-together' },
    { outcome: 'limit-exceeded' },
    { outcome: 'seat-unavailable' },
    { outcome: 'succeeded', seats: [1106] },
  ]);
  const statuses = (st: SeatStock) => seats.map((x) => st.status(x.id) as SeatStatus);
  t.deepEqual(statuses(start.stock!), statuses(base.stock!), 'the planner changed a copy, not the snapshot');
});
