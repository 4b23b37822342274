import test from 'ava';
import { Stack, eventually } from './helpers/stack.js';
import { HoldRequest } from '../shared/db/models/index.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
});
test.after.always(async () => stack?.close());

test('when requests wait in the queue, then positions never go up and requests reach the head in enqueue order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(40);
  const members = await stack.members(20);
  for (const m of members) await stack.admit(m.token, performanceId);
  // Three holds commit first: each schedules an expiry job, which takes a queue sequence of its own
  // but is ahead of nobody; positions must leave those out.
  const early = await stack.startWorker();
  for (const i of [37, 38, 39]) {
    const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token: members[i - 37]!.token,
      body: { seatIds: [seatIds[i]] },
    });
    t.is((await stack.settle(members[i - 37]!.token, r.body.requestId))['status'], 'succeeded');
  }
  await early.close();
  stack.workers.splice(stack.workers.indexOf(early), 1);
  const ids: number[] = [];
  for (const [i, m] of members.entries()) {
    const r = await stack.http<{ requestId: number; position: number }>(
      'POST',
      `/api/performances/${performanceId}/holds`,
      {
        token: m.token,
        body: { seatIds: [seatIds[i]!] },
      },
    );
    t.is(r.status, 202);
    t.is(r.headers.get('location'), `/api/requests/${r.body.requestId}`);
    t.is(r.body.position, i + 1, 'the n-th request waits at position n');
    ids.push(r.body.requestId);
  }
  const seen = new Map<number, number[]>(ids.map((id) => [id, []]));
  const poll = async () => {
    for (const [i, id] of ids.entries()) {
      const r = await stack.http('GET', `/api/requests/${id}`, { token: members[i]!.token });
      if (r.body['status'] === 'queued') seen.get(id)!.push(r.body['position'] as number);
    }
  };
  await poll();
  t.deepEqual(
    ids.map((id) => seen.get(id)![0]),
    ids.map((_, i) => i + 1),
  );
  await stack.startWorker();
  await eventually(
    async () => {
      await poll();
      return (await HoldRequest.count({ where: { performanceId, status: 'queued' } })) === 0;
    },
    30_000,
    0,
  );
  for (const [id, positions] of seen) {
    for (let i = 1; i < positions.length; i++)
      t.true(positions[i]! <= positions[i - 1]!, `request ${id} never moves back`);
  }
  const rows = await HoldRequest.findAll({ where: { performanceId }, order: [['queueSeq', 'ASC']] });
  const times = rows.map((r) => r.processedAt!.getTime());
  t.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
    'processed in enqueue order',
  );
  t.true(rows.every((r) => r.status === 'succeeded'));
  t.is(rows.length, 23);
});

test('when the same Idempotency-Key is sent twice, then one request and one job exist', async (t) => {
  const { performanceId, seatIds } = await stack.performance(5);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const send = () =>
    stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token: m!.token,
      body: { seatIds: [seatIds[0]] },
      headers: { 'Idempotency-Key': 'checkout-123' },
    });
  const a = await send();
  const b = await send();
  t.is(a.status, 202);
  t.is(b.status, 202);
  t.is(a.body.requestId, b.body.requestId);
  t.is(await HoldRequest.count({ where: { performanceId } }), 1);
  const queue = await stack.ctx.queues.get(performanceId);
  // Request jobs only: once the hold commits, its expiry waits in the delayed set.
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
  t.is(
    Object.values(counts).reduce((x, y) => x + y, 0),
    1,
    'one job on the queue',
  );
  const other = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: [seatIds[1]] },
    headers: { 'Idempotency-Key': 'checkout-123' },
  });
  t.is(other.status, 409, 'a key reused for a different request is refused');
  t.is(other.body['code'], 'idempotency-key-reused');
});
