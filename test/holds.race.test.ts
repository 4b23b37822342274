import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Stack } from './helpers/stack.js';
import { HoldRequest } from '../shared/db/models/index.js';
import { replayHolds } from '../shared/testing/replay.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
  await stack.spawnWorker();
  await stack.spawnWorker();
});
test.after.always(async () => stack?.close());

// A deterministic shuffle so a failure can be replayed.
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

test('when 100 members race 300 hold requests for 20 seats over 2 worker processes, then outcomes are exactly those of enqueue order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(20);
  const members = await stack.members(100);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const random = rng(42);
  const asks = members.flatMap((m) =>
    [0, 1, 2].map(() => {
      const a = seatIds[Math.floor(random() * 20)]!;
      const b = seatIds[Math.floor(random() * 20)]!;
      return { member: m, seats: a === b || random() < 0.5 ? [a] : [a, b] };
    }),
  );

  const accepted = await Promise.all(
    asks.map((ask) =>
      stack.http<{ requestId: number; position: number }>(
        'POST',
        `/api/performances/${performanceId}/holds`,
        {
          token: ask.member.token,
          body: { seatIds: ask.seats },
        },
      ),
    ),
  );
  t.true(
    accepted.every((r) => r.status === 202),
    'every request is accepted',
  );
  const finals = await Promise.all(
    accepted.map((r, i) => stack.settle(asks[i]!.member.token, r.body.requestId, 60_000)),
  );
  t.true(finals.every((f) => f['status'] === 'succeeded' || f['status'] === 'rejected'));

  // Replay the requests in the order the queue received them, with the contract's rules.
  const rows = await HoldRequest.findAll({ where: { performanceId }, order: [['queueSeq', 'ASC']] });
  t.is(rows.length, 300);
  t.is(new Set(rows.map((r) => r.queueSeq)).size, 300, 'every request has its own queue sequence');
  const { outOfOrder, taken } = replayHolds(rows, 4);
  t.is(outOfOrder, 0, 'every outcome is the one enqueue order dictates');

  // What clients were told agrees with the database.
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const f of finals) {
    const row = byId.get(f['requestId'] as number)!;
    t.is(f['status'], row.status);
    if (row.status === 'rejected') t.is(f['reason'], row.reason);
  }

  // No seat in two live holds; seat rows agree with the holds.
  const doubles = await stack.ctx.sequelize.query<{ seatId: number; n: number }>(
    `SELECT hs.seat_id AS seatId, COUNT(*) AS n FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
      WHERE h.performance_id = ? AND h.status IN ('held', 'confirmed') GROUP BY hs.seat_id HAVING n > 1`,
    { type: QueryTypes.SELECT, replacements: [performanceId] },
  );
  t.deepEqual(doubles, []);
  const inconsistent = await stack.ctx.sequelize.query(
    `SELECT s.id FROM seats s LEFT JOIN hold_seats hs ON hs.seat_id = s.id AND hs.live_seat_id IS NOT NULL
      WHERE s.performance_id = ? AND ((s.status = 'held') <> (hs.hold_id IS NOT NULL) OR (hs.hold_id IS NOT NULL AND s.hold_id <> hs.hold_id))`,
    { type: QueryTypes.SELECT, replacements: [performanceId] },
  );
  t.deepEqual(inconsistent, []);
  t.is(
    taken.size,
    await stack.ctx.sequelize.models['Seat']!.count({ where: { performanceId, status: 'held' } }),
  );
});
