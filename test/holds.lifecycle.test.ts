import test from 'ava';
import { Stack, eventually } from './helpers/stack.js';
import { Hold, HoldRequest, Payment, Seat, Ticket } from '../shared/db/models/index.js';
import { HoldRequestRepository } from '../shared/db/repositories/hold-request.repository.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1, env: { SWEEP_ORPHAN_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' } });
});
test.after.always(async () => stack?.close());

type Final = {
  status: string;
  reason?: string;
  hold?: { id: number; status: string; seatIds: number[] };
  tickets?: { serial: string; seatId: number }[];
};

async function setup(seats = 6) {
  const perf = await stack.performance(seats);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, perf.performanceId);
  return { ...perf, m: m! };
}

async function hold(token: string, performanceId: number, seatIds: number[]): Promise<Final> {
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token,
    body: { seatIds },
  });
  return (await stack.settle(token, r.body.requestId)) as Final;
}

async function seatStatuses(performanceId: number, ids: number[]) {
  const seats = await Seat.findAll({ where: { performanceId, id: ids }, order: [['id', 'ASC']] });
  return seats.map((s) => s.status);
}

test('when a hold is confirmed with an approved payment, then the member gets tickets and the seats are sold', async (t) => {
  const { performanceId, seatIds, m } = await setup();
  const held = await hold(m.token, performanceId, seatIds.slice(0, 2));
  t.is(held.status, 'succeeded');
  const r = await stack.http<{ requestId: number }>('POST', `/api/holds/${held.hold!.id}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token: 'approve-1' } },
  });
  t.is(r.status, 202);
  const done = (await stack.settle(m.token, r.body.requestId)) as Final;
  t.is(done.status, 'succeeded');
  t.is(done.tickets?.length, 2);
  t.deepEqual(await seatStatuses(performanceId, seatIds.slice(0, 2)), ['sold', 'sold']);
  t.is((await Payment.findOne({ where: { holdId: held.hold!.id } }))?.status, 'captured');
  const mine = await stack.http<{
    items: { serial: string; seatId: number; seatCode: string; price: number }[];
  }>('GET', '/api/me/tickets', { token: m.token });
  t.deepEqual(mine.body.items.map((i) => i.seatId).sort(), seatIds.slice(0, 2).sort());
  t.true(
    mine.body.items.every((i) => /^[0-9A-Z]{20}$/.test(i.serial) && i.price > 0 && i.seatCode.length > 0),
  );
  const holds = await stack.http<{ items: { id: number; status: string }[] }>('GET', '/api/me/holds', {
    token: m.token,
  });
  t.is(holds.body.items.find((h) => h.id === held.hold!.id)?.status, 'confirmed');
  // Finishing frees the waiting-room slot.
  t.is(
    (await stack.http('GET', `/api/performances/${performanceId}/waiting`, { token: m.token })).status,
    404,
  );
});

test('when a hold is released, then its seats are available again and it cannot be confirmed', async (t) => {
  const { performanceId, seatIds, m } = await setup();
  const held = await hold(m.token, performanceId, [seatIds[0]!]);
  const r = await stack.http<{ requestId: number }>('DELETE', `/api/holds/${held.hold!.id}`, {
    token: m.token,
  });
  t.is(r.status, 202);
  t.is(((await stack.settle(m.token, r.body.requestId)) as Final).status, 'succeeded');
  t.deepEqual(await seatStatuses(performanceId, [seatIds[0]!]), ['available']);
  const again = await stack.http<{ requestId: number }>('DELETE', `/api/holds/${held.hold!.id}`, {
    token: m.token,
  });
  t.is(((await stack.settle(m.token, again.body.requestId)) as Final).reason, 'hold-not-found');
  const c = await stack.http<{ code: string }>('POST', `/api/holds/${held.hold!.id}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token: 'approve-2' } },
  });
  t.is(c.status, 409);
  t.is(c.body.code, 'hold-not-held');
  t.is(await Payment.count({ where: { holdId: held.hold!.id } }), 0, 'nothing was authorised');
});

test('when a hold outlives its TTL, then it expires, its seats return and a late confirm is 409 hold-not-held with nothing authorised', async (t) => {
  const short = await Stack.start({ workers: 1, env: { HOLD_TTL_SECONDS: '2' } });
  t.teardown(() => short.close());
  const { performanceId, seatIds } = await short.performance(3);
  const [m] = await short.members(1);
  await short.admit(m!.token, performanceId);
  const r = await short.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: [seatIds[1]] },
  });
  const held = (await short.settle(m!.token, r.body.requestId)) as Final;
  const holdId = held.hold!.id;
  await eventually(async () => (await Hold.findByPk(holdId))?.status === 'expired', 15_000);
  t.deepEqual(await seatStatuses(performanceId, [seatIds[1]!]), ['available']);
  await short.admit(m!.token, performanceId);
  const c = await short.http<{ code: string }>('POST', `/api/holds/${holdId}/confirm`, {
    token: m!.token,
    body: { payment: { method: 'card', token: 'approve-3' } },
  });
  t.is(c.status, 409);
  t.is(c.body.code, 'hold-not-held');
  t.is(await Payment.count({ where: { holdId } }), 0, 'nothing was authorised');
  t.is(await Ticket.count({ where: { holdId } }), 0);
});

test('when the payment is declined, then 402 and nothing is enqueued', async (t) => {
  const { performanceId, seatIds, m } = await setup();
  const held = await hold(m.token, performanceId, [seatIds[2]!]);
  const queue = await stack.ctx.queues.get(performanceId);
  // The hold's job may still be finishing (after-commit steps) when its request reads final.
  const total = async () =>
    Object.values(await queue.getJobCounts('completed', 'waiting', 'active', 'delayed', 'failed')).reduce(
      (a, b) => a + b,
      0,
    );
  await eventually(async () => (await queue.getJobCounts('active', 'waiting')).active === 0);
  const before = await total();
  const r = await stack.http('POST', `/api/holds/${held.hold!.id}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token: 'decline-insufficient-funds' } },
  });
  t.is(r.status, 402);
  t.is(r.body['code'], 'payment-declined');
  t.is(await total(), before, 'no job was added');
  t.is(await Payment.count({ where: { holdId: held.hold!.id } }), 0);
  t.is((await Hold.findByPk(held.hold!.id))?.status, 'held');
});

test("when a member touches another member's hold, then it is not found", async (t) => {
  const { performanceId, seatIds, m } = await setup();
  const [other] = await stack.members(1);
  await stack.admit(other!.token, performanceId);
  const held = await hold(m.token, performanceId, [seatIds[3]!]);
  const confirm = await stack.http('POST', `/api/holds/${held.hold!.id}/confirm`, {
    token: other!.token,
    body: { payment: { method: 'card', token: 'approve-4' } },
  });
  t.is(confirm.status, 404);
  t.is(confirm.body['code'], 'hold-not-found');
  t.is((await stack.http('DELETE', `/api/holds/${held.hold!.id}`, { token: other!.token })).status, 404);
  t.is((await Hold.findByPk(held.hold!.id))?.status, 'held');
  t.is(await Payment.count({ where: { holdId: held.hold!.id } }), 0);
});

test('when one member sends many holds at once, then the per-member limit holds', async (t) => {
  const { performanceId, seatIds, m } = await setup(20);
  const results = await Promise.all(
    [0, 2, 4, 6, 8, 10].map((i) =>
      stack
        .http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
          token: m.token,
          body: { seatIds: [seatIds[i], seatIds[i + 1]] },
        })
        .then((r) => stack.settle(m.token, r.body.requestId) as Promise<Final>),
    ),
  );
  t.is(
    results.filter((r) => r.status === 'succeeded').length,
    2,
    'two holds of two seats reach the limit of 4',
  );
  t.true(results.filter((r) => r.status === 'rejected').every((r) => r.reason === 'limit-exceeded'));
  t.is(await Seat.count({ where: { performanceId, status: 'held' } }), 4);
});

test('when a client prefers to wait, then the hold answers 200 with its final status, and a wait of 0 answers 202', async (t) => {
  const { performanceId, seatIds, m } = await setup();
  const waited = await stack.http<Final & { requestId: number }>(
    'POST',
    `/api/performances/${performanceId}/holds`,
    {
      token: m.token,
      body: { seatIds: [seatIds[0]] },
      headers: { Prefer: 'wait=5' },
    },
  );
  t.is(waited.status, 200);
  t.is(waited.headers.get('preference-applied'), 'wait=5');
  t.is(waited.headers.get('location'), `/api/requests/${waited.body.requestId}`);
  t.is(waited.body.status, 'succeeded');
  t.deepEqual(waited.body.hold?.seatIds, [seatIds[0]]);
  const polled = await stack.http<Final>('GET', `/api/requests/${waited.body.requestId}`, { token: m.token });
  t.deepEqual(polled.body, waited.body, 'the same view as a poll');
  const queued = await stack.http<{ status: string }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds: [seatIds[1]] },
    headers: { Prefer: 'wait=0' },
  });
  t.is(queued.status, 202);
  t.is(queued.body.status, 'queued');
  const ignored = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds: [seatIds[2]] },
    headers: { Prefer: 'wait=soon' },
  });
  t.is(ignored.status, 202, 'a malformed preference is ignored');
});

test("when the API dies between a request's insert and its enqueue, then the sweeper enqueues it and it reaches its final status", async (t) => {
  const { performanceId, seatIds, m } = await setup();
  // What an API process that died right after its insert leaves: a queued row and no job.
  const requestId = await new HoldRequestRepository(stack.ctx.sequelize).insert({
    performanceId,
    memberId: m.id,
    kind: 'hold',
    idempotencyKey: null,
    payload: JSON.stringify({ seatIds: [seatIds[3]] }),
    holdId: null,
  });
  const final = (await stack.settle(m.token, requestId, 30_000)) as Final;
  t.is(final.status, 'succeeded');
  t.deepEqual(final.hold?.seatIds, [seatIds[3]]);
  t.not((await HoldRequest.findByPk(requestId))?.queueSeq, null, 'it got a place in the queue');
});
