import type { ExecutionContext } from 'ava';
import { QueryTypes } from 'sequelize';
import { HoldRequest, Seat, SeatEvent as SeatEventRow } from '../../shared/db/models/index.js';
import { replayHolds } from '../../shared/testing/replay.js';
import { eventually, type Stack } from './stack.js';
import type { SeatEvent, SseClient } from './sse.js';

/**
 * The hold invariants of a finished run: each request has its own queue sequence; every outcome
 * is the one a replay in enqueue order gives; what clients were told agrees with the database; no
 * seat is in two live holds; seat rows agree with the holds.
 */
export async function assertHoldRun(
  t: ExecutionContext,
  stack: Stack,
  performanceId: number,
  expected: number,
  finals: Record<string, unknown>[] = [],
): Promise<void> {
  const rows = await HoldRequest.findAll({ where: { performanceId }, order: [['queueSeq', 'ASC']] });
  t.is(rows.length, expected);
  t.true(
    rows.every((r) => r.status !== 'queued'),
    'every accepted request is final',
  );
  t.is(new Set(rows.map((r) => r.queueSeq)).size, expected, 'every request has its own queue sequence');
  const { outOfOrder, taken } = replayHolds(rows, 4);
  t.is(outOfOrder, 0, 'every outcome is the one enqueue order dictates');

  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const f of finals) {
    const row = byId.get(f['requestId'] as number)!;
    t.is(f['status'], row.status);
    if (row.status === 'rejected') t.is(f['reason'], row.reason);
  }

  const query = (sql: string) =>
    stack.ctx.sequelize.query(sql, { type: QueryTypes.SELECT, replacements: [performanceId] });
  t.deepEqual(
    await query(`SELECT hs.seat_id FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
      WHERE h.performance_id = ? AND h.status IN ('held', 'confirmed') GROUP BY hs.seat_id HAVING COUNT(*) > 1`),
    [],
    'no seat is in two live holds',
  );
  t.deepEqual(
    await query(`SELECT s.id FROM seats s LEFT JOIN hold_seats hs ON hs.seat_id = s.id AND hs.live_seat_id IS NOT NULL
      WHERE s.performance_id = ? AND ((s.status = 'held') <> (hs.hold_id IS NOT NULL)
         OR (hs.hold_id IS NOT NULL AND s.hold_id <> hs.hold_id))`),
    [],
    'seat rows agree with the holds',
  );
  t.is(taken.size, await Seat.count({ where: { performanceId, status: 'held' } }));
}

/** The seat changes committed for a performance, as an event stream shows them. */
export async function committedSeatEvents(performanceId: number): Promise<SeatEvent[]> {
  const rows = await SeatEventRow.findAll({ where: { performanceId }, order: [['seq', 'ASC']] });
  return rows.map((r) => ({ id: Number(r.seq), seatId: Number(r.seatId), status: r.status }));
}

/** Every stream delivered exactly the committed changes, once each, in sequence order. */
export async function assertStreamsMatchCommits(
  t: ExecutionContext,
  performanceId: number,
  clients: SseClient[],
): Promise<void> {
  const truth = await committedSeatEvents(performanceId);
  t.true(truth.length >= 8, `${truth.length} changes committed`);
  t.deepEqual(
    truth.map((e) => e.id),
    truth.map((_, i) => i + 1),
    'the sequence has no gap',
  );
  await eventually(async () => clients.every((c) => c.events.length >= truth.length), 10_000);
  clients.forEach((c, i) =>
    t.deepEqual(c.events, truth, `stream ${i + 1} delivered every change once, in order`),
  );
}
