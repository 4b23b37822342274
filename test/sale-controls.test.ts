import test from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { registry } from '../shared/metrics.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';

// The operator's levers (contract §3 PATCH /api/performances/:id, §5 GET /api/admin/performances/:id).
// Serial: the admissions test reads this process's counters, which every test here moves.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1, env: { ADMISSION_TICK_MS: '200' } });
});
test.after.always(async () => stack?.close());

const join = (m: TestMember, id: number) =>
  stack.http<WaitingStatus>('POST', `/api/performances/${id}/waiting`, { token: m.token });
const patch = async (id: number, body: Record<string, unknown>) =>
  stack.http('PATCH', `/api/performances/${id}`, { token: await stack.admin(), body });

/** Admitted member ids, read straight from Redis (reading through the API would count as activity). */
async function admittedIds(performanceId: number): Promise<number[]> {
  const key = stack.ctx.waitingRoom.keys(performanceId).admitted;
  return (await stack.ctx.redis.zrange(key, 0, -1)).map(Number).sort((a, b) => a - b);
}

async function admissionsCounted(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('waiting_room_admissions_total')!.get();
  const out: Record<string, number> = { join: 0, leave: 0, ticker: 0 };
  for (const v of metric.values) out[String(v.labels['trigger'])] = v.value;
  return out;
}

test.serial(
  'when a sale opens at a set time, then nobody is admitted before it and members are admitted in ticket order after it',
  async (t) => {
    const { performanceId } = await stack.performance(1, 2);
    const opensAt = new Date(Date.now() + 3000);
    const set = await patch(performanceId, { salesOpenAt: opensAt.toISOString() });
    t.is(set.status, 200);
    t.is(set.body['salesOpenAt'], opensAt.toISOString());
    const members = await stack.members(5);
    const joined = [];
    for (const m of members) joined.push(await join(m, performanceId));
    t.deepEqual(
      joined.map((r) => [r.body.status, r.body.position]),
      [1, 2, 3, 4, 5].map((p) => ['waiting', p]),
      'members join and see their position before the opening',
    );
    // Watch the room until the opening: nobody may get in before it.
    while (Date.now() < opensAt.getTime() - 50) {
      t.deepEqual(await admittedIds(performanceId), [], `nobody admitted at ${new Date().toISOString()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = await eventually(async () => {
      const ids = await admittedIds(performanceId);
      return ids.length === 2 && ids;
    }, 3000);
    t.true(Date.now() >= opensAt.getTime() - 50);
    t.deepEqual(
      first,
      [members[0]!.id, members[1]!.id].sort((a, b) => a - b),
      'tickets 1 and 2 first',
    );
    await stack.http('DELETE', `/api/performances/${performanceId}/waiting`, { token: members[0]!.token });
    const next = await eventually(async () => {
      const ids = await admittedIds(performanceId);
      return ids.includes(members[2]!.id) && ids;
    }, 3000);
    t.deepEqual(
      next,
      [members[1]!.id, members[2]!.id].sort((a, b) => a - b),
      'then ticket 3',
    );
    const s = await stack.http<WaitingStatus>('GET', `/api/performances/${performanceId}/waiting`, {
      token: members[3]!.token,
    });
    t.like(s.body, { status: 'waiting', position: 1 });
  },
);

test.serial(
  'when holds are paused, then requests queue with positions and nothing applies; resumed, they apply in order with the same positions',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(4);
    const members = await stack.members(3);
    for (const m of members) await stack.admit(m.token, performanceId);
    t.like((await patch(performanceId, { holdsPaused: true })).body, { holdsPaused: true });

    const accepted = [];
    for (const m of members) {
      const r = await stack.http<{ requestId: number; status: string; position: number }>(
        'POST',
        `/api/performances/${performanceId}/holds`,
        { token: m.token, body: { seatIds: [seatIds[0]] } },
      );
      t.is(r.status, 202);
      accepted.push(r.body);
    }
    t.deepEqual(
      accepted.map((a) => a.position),
      [1, 2, 3],
    );
    // For as long as the queue is paused, every request stays queued at its position.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      for (const [i, a] of accepted.entries()) {
        const r = await stack.http('GET', `/api/requests/${a.requestId}`, { token: members[i]!.token });
        t.like(r.body, { status: 'queued', position: i + 1 }, `request ${i + 1} while paused`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const live = await stack.http<Record<string, Record<string, unknown>>>(
      'GET',
      `/api/admin/performances/${performanceId}`,
      { token: await stack.admin() },
    );
    t.like(live.body['queue'], { waiting: 3, paused: true });
    t.true(Number(live.body['queue']!['oldestWaitingSeconds']) >= 1.4, 'the lag grows while paused');

    t.like((await patch(performanceId, { holdsPaused: false })).body, { holdsPaused: false });
    const outcomes = [];
    for (const [i, a] of accepted.entries())
      outcomes.push(await stack.settle(members[i]!.token, a.requestId));
    t.deepEqual(
      outcomes.map((o) => [o['status'], o['reason']]),
      [
        ['succeeded', undefined],
        ['rejected', 'seat-unavailable'],
        ['rejected', 'seat-unavailable'],
      ],
      'the first enqueued wins the seat',
    );
  },
);

test.serial(
  "when Redis loses a paused performance's queue, then the restored queue is paused again and its requests wait",
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(2);
    const [m] = await stack.members(1);
    await stack.admit(m!.token, performanceId);
    await patch(performanceId, { holdsPaused: true });
    const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token: m!.token,
      body: { seatIds: [seatIds[0]] },
    });
    t.is(r.status, 202);
    // Every Redis key of this performance's queue and waiting room goes, as in a loss of Redis data.
    const p = stack.config.keyPrefix;
    const keys = (
      await Promise.all(
        [
          `${p}:q:{perf-${performanceId}}:*`,
          `${p}:{perf-${performanceId}}:*`,
          `${p}:wr:{perf-${performanceId}}:gate`,
        ].map((pattern) => stack.ctx.redis.keys(pattern)),
      )
    ).flat();
    t.true(keys.length > 3);
    await stack.ctx.redis.del(...keys);
    const k = stack.ctx.queues.keys(performanceId);
    await eventually(async () => (await stack.ctx.redis.exists(k.epoch)) === 1, 20_000);
    t.is(await stack.ctx.redis.hget(k.meta, 'paused'), '1', 'paused again');
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      const s = await stack.http('GET', `/api/requests/${r.body.requestId}`, { token: m!.token });
      t.is(s.body['status'], 'queued', 'nothing applied while paused');
      await new Promise((res) => setTimeout(res, 100));
    }
    await patch(performanceId, { holdsPaused: false });
    t.is((await stack.settle(m!.token, r.body.requestId))['status'], 'succeeded');
  },
);

test.serial('when the admission capacity changes, then it applies within 2 s', async (t) => {
  const { performanceId } = await stack.performance(1, 1);
  const members = await stack.members(5);
  for (const m of members) await join(m, performanceId);
  t.deepEqual(await admittedIds(performanceId), [members[0]!.id]);

  const changed = Date.now();
  t.like((await patch(performanceId, { admissionCapacity: 3 })).body, { admissionCapacity: 3 });
  await eventually(async () => (await admittedIds(performanceId)).length === 3, 2000, 20);
  t.log(`capacity 1 -> 3 applied in ${Date.now() - changed} ms`);
  t.deepEqual(
    await admittedIds(performanceId),
    members
      .slice(0, 3)
      .map((m) => m.id)
      .sort((a, b) => a - b),
  );

  // Paused admission: a freed slot stays free until the pause ends.
  t.like((await patch(performanceId, { admissionPaused: true })).body, { admissionPaused: true });
  await stack.http('DELETE', `/api/performances/${performanceId}/waiting`, { token: members[0]!.token });
  const until = Date.now() + 1000;
  while (Date.now() < until) {
    t.is((await admittedIds(performanceId)).length, 2, 'nobody admitted while paused');
    await new Promise((r) => setTimeout(r, 100));
  }
  await patch(performanceId, { admissionPaused: false });
  await eventually(async () => (await admittedIds(performanceId)).includes(members[3]!.id), 2000, 20);
});

test.serial('when every admission path admits somebody, then each admission is counted', async (t) => {
  const { performanceId } = await stack.performance(1, 1);
  const members = await stack.members(3);
  const before = await admissionsCounted();
  await join(members[0]!, performanceId); // admitted on its join
  await join(members[1]!, performanceId);
  await join(members[2]!, performanceId);
  const afterJoins = await admissionsCounted();
  t.is(afterJoins['join']! - before['join']!, 1);
  await stack.http('DELETE', `/api/performances/${performanceId}/waiting`, { token: members[0]!.token });
  const afterLeave = await admissionsCounted();
  t.is(afterLeave['leave']! - before['leave']!, 1, 'the leave admitted the next member');
  t.deepEqual(await admittedIds(performanceId), [members[1]!.id]);
  // The ticker admits the third once the capacity grows.
  await patch(performanceId, { admissionCapacity: 2 });
  const counted = await eventually(async () => {
    const c = await admissionsCounted();
    return c['ticker']! - before['ticker']! >= 1 && c;
  }, 3000);
  t.is(counted['ticker']! - before['ticker']!, 1);
  t.deepEqual(
    await admittedIds(performanceId),
    [members[1]!.id, members[2]!.id].sort((a, b) => a - b),
  );
  const text = await (await fetch(stack.metricsUrl)).text();
  t.regex(text, /waiting_room_admissions_total\{trigger="join"\} \d+/);
});

test.serial('when a member who is not ADMIN calls an admin route, then every one answers 403', async (t) => {
  const { performanceId } = await stack.performance(1);
  const [m] = await stack.members(1);
  const routes: [string, string, unknown?][] = [
    ['POST', '/api/performances', {}],
    ['PATCH', `/api/performances/${performanceId}`, { admissionPaused: true }],
    ['GET', `/api/admin/performances/${performanceId}`],
    ['GET', '/admin/queues'],
    ['GET', '/admin/queues/api/queues'],
  ];
  for (const [method, path, body] of routes) {
    const r = await stack.http(method, path, { token: m!.token, body });
    t.is(r.status, 403, `${method} ${path}`);
    t.is(r.body['code'], 'forbidden', `${method} ${path}`);
    const anonymous = await stack.http(method, path, { body });
    t.is(anonymous.status, 401, `${method} ${path} without a token`);
  }
  const info = await stack.http('GET', `/api/performances/${performanceId}`);
  t.is(info.body['salesOpenAt'], null, 'nothing changed');
});

test.serial('when a control is malformed, then it is a 400 that changes nothing', async (t) => {
  const { performanceId } = await stack.performance(1, 7);
  for (const body of [
    {},
    { admissionCapacity: 0 },
    { admissionCapacity: 1.5 },
    { admissionPaused: 'yes' },
    { salesOpenAt: 'tomorrow' },
    { surprise: true },
    { queueMode: 'random' },
    { admissionsPerMinute: 0 },
  ]) {
    const r = await patch(performanceId, body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(r.body['code'], 'validation-failed');
  }
  t.is((await patch(999_999_999, { admissionPaused: true })).status, 404);
  const live = await stack.http<Record<string, Record<string, unknown>>>(
    'GET',
    `/api/admin/performances/${performanceId}`,
    { token: await stack.admin() },
  );
  t.deepEqual(live.body['controls'], {
    salesOpenAt: null,
    admissionCapacity: 7,
    admissionPaused: false,
    holdsPaused: false,
    queueMode: 'fifo',
    admissionsPerMinute: null,
  });
});
