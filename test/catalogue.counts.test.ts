import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Stack } from './helpers/stack.js';

// GET /api/performances/:id is the busiest public URL of a sale: its counts come from a tally that
// follows the seat events, counted once per process, and they match MySQL after every commit.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
});
test.after.always(async () => stack?.close());

type Counts = {
  seatCount: number;
  availableCount: number;
  heldCount: number;
  soldCount: number;
  soldOut: boolean;
  zones: { id: number; seatCount: number; availableCount: number }[];
};

/** The counts as an aggregation over the seats gives them (what the route used to run per call). */
async function counted(performanceId: number) {
  const q = <T extends object>(sql: string) =>
    stack.ctx.sequelize.query<T>(sql, { type: QueryTypes.SELECT, replacements: [performanceId] });
  const [all] = await q<{ n: number; a: number; h: number; s: number }>(
    `SELECT COUNT(*) AS n, COALESCE(SUM(status = 'available'), 0) AS a, COALESCE(SUM(status = 'held'), 0) AS h,
            COALESCE(SUM(status = 'sold'), 0) AS s FROM seats WHERE performance_id = ?`,
  );
  const zones = await q<{ id: number; n: number; a: number }>(
    `SELECT z.id, COUNT(s.id) AS n, COALESCE(SUM(s.status = 'available'), 0) AS a
       FROM zones z LEFT JOIN seats s ON s.zone_id = z.id WHERE z.performance_id = ? GROUP BY z.id ORDER BY z.id`,
  );
  return {
    seatCount: Number(all!.n),
    availableCount: Number(all!.a),
    heldCount: Number(all!.h),
    soldCount: Number(all!.s),
    soldOut: Number(all!.n) > 0 && Number(all!.s) === Number(all!.n),
    zones: zones.map((z) => ({ id: Number(z.id), seatCount: Number(z.n), availableCount: Number(z.a) })),
  };
}

async function served(performanceId: number) {
  const r = await stack.http<Counts>('GET', `/api/performances/${performanceId}`);
  const { seatCount, availableCount, heldCount, soldCount, soldOut, zones } = r.body;
  return {
    seatCount,
    availableCount,
    heldCount,
    soldCount,
    soldOut,
    zones: zones.map((z) => ({ id: z.id, seatCount: z.seatCount, availableCount: z.availableCount })),
  };
}

test('when seats are held, sold and released, then the performance counts match MySQL after each commit without counting the seats again', async (t) => {
  const { performanceId, seatIds } = await stack.performance(6);
  const [a, b] = await stack.members(2);
  await stack.admit(a!.token, performanceId);
  await stack.admit(b!.token, performanceId);
  t.deepEqual(await served(performanceId), await counted(performanceId), 'before any sale');
  const tallies = stack.ctx.catalogue.tallies;
  const countings = tallies.countings;

  const hold = async (token: string, ids: number[]) => {
    const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token,
      body: { seatIds: ids },
    });
    return (await stack.settle(token, r.body.requestId)) as { hold?: { id: number } };
  };
  const ha = await hold(a!.token, seatIds.slice(0, 2));
  t.deepEqual(await served(performanceId), await counted(performanceId), 'after a hold');
  t.like(await served(performanceId), { availableCount: 4, heldCount: 2 });
  const hb = await hold(b!.token, seatIds.slice(2, 6));
  t.deepEqual(await served(performanceId), await counted(performanceId), 'after a second hold');
  const confirm = await stack.http<{ requestId: number }>('POST', `/api/holds/${ha.hold!.id}/confirm`, {
    token: a!.token,
    body: { payment: { method: 'card', token: 'approve-1' } },
  });
  await stack.settle(a!.token, confirm.body.requestId);
  t.deepEqual(await served(performanceId), await counted(performanceId), 'after a sale');
  const release = await stack.http<{ requestId: number }>('DELETE', `/api/holds/${hb.hold!.id}`, {
    token: b!.token,
  });
  await stack.settle(b!.token, release.body.requestId);
  const after = await served(performanceId);
  t.deepEqual(after, await counted(performanceId), 'after a release');
  t.like(after, { availableCount: 4, heldCount: 0, soldCount: 2, soldOut: false });

  // Fifty at once share what is there: the seats are not counted again, by any of them.
  const many = await Promise.all(Array.from({ length: 50 }, () => served(performanceId)));
  for (const m of many) t.deepEqual(m, after);
  t.is(tallies.countings, countings, 'the counts followed the events; the seats were counted once, before');
});

test('when the performance does not exist, then its counts are not looked for and the answer is 404', async (t) => {
  const r = await stack.http('GET', '/api/performances/987654321');
  t.is(r.status, 404);
  t.is(r.body['code'], 'performance-not-found');
});
