import test from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';
import { estimateEtaSeconds } from '../shared/waiting-room/pace.js';

// Two stacks, each with two API processes and a worker: one where admitted members stay admitted
// for a minute, and one where they lose the slot after two idle seconds. Serial: the 2,000-member
// burst would otherwise stall the samplers that watch admissions come and go.
let stack: Stack;
let idle: Stack;
test.before(async () => {
  [stack, idle] = await Promise.all([
    Stack.start({ apis: 2, workers: 1, env: { ADMISSION_IDLE_SECONDS: '60' } }),
    Stack.start({ apis: 2, workers: 1, env: { ADMISSION_IDLE_SECONDS: '2', ADMISSION_TICK_MS: '200' } }),
  ]);
});
test.after.always(async () => Promise.all([stack?.close(), idle?.close()]));

const join = (m: TestMember, id: number, api = 0, s = stack) =>
  s.http<WaitingStatus>('POST', `/api/performances/${id}/waiting`, {
    token: m.token,
    base: s.apis[api]!.url,
  });
const status = (m: TestMember, id: number, s = stack) =>
  s.http<WaitingStatus>('GET', `/api/performances/${id}/waiting`, { token: m.token });
const leave = (m: TestMember, id: number) =>
  stack.http('DELETE', `/api/performances/${id}/waiting`, { token: m.token });

/** Admitted member ids, read straight from Redis (reading through the API would count as activity). */
async function admittedIds(performanceId: number, s = stack): Promise<number[]> {
  const key = s.ctx.waitingRoom.keys(performanceId).admitted;
  return (await s.ctx.redis.zrange(key, 0, -1)).map(Number);
}

test.serial(
  'when 2,000 members join at once through two API processes, then tickets are distinct and gap-free',
  async (t) => {
    const { performanceId } = await stack.performance(1, 10);
    const members = await stack.members(2000);
    const joined = await Promise.all(members.map((m, i) => join(m, performanceId, i % 2)));
    t.true(joined.every((r) => r.status === 200));
    const tickets = joined.map((r) => r.body.ticket).sort((a, b) => a - b);
    t.deepEqual(
      tickets,
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    t.is(joined.filter((r) => r.body.status === 'admitted').length, 10, 'exactly the capacity is admitted');
    const sizes = await stack.ctx.waitingRoom.sizes(performanceId);
    t.deepEqual(sizes, { waiting: 1990, admitted: 10 });
    const lineKey = stack.ctx.waitingRoom.keys(performanceId).line;
    const bytes = Number(await stack.ctx.redis.memory('USAGE', lineKey));
    t.log(`waiting line of 1990 members: ${bytes} bytes (${(bytes / 1990).toFixed(1)} bytes per member)`);
    t.true(bytes / 1990 < 200, 'a small, fixed number of bytes per waiting member');
  },
);

test.serial('when a member joins again (a refresh), then the ticket and position are kept', async (t) => {
  const { performanceId } = await stack.performance(1, 1);
  const [a, b, c] = await stack.members(3);
  await join(a!, performanceId);
  const first = await join(b!, performanceId);
  await join(c!, performanceId);
  t.is(first.body.status, 'waiting');
  t.is(first.body.position, 1);
  for (let i = 0; i < 3; i++) {
    const again = await join(b!, performanceId, i % 2);
    t.is(again.body.ticket, first.body.ticket);
    t.true(again.body.position <= first.body.position);
  }
  const s = await status(c!, performanceId);
  t.is(s.body.position, 2);
  t.true(Number.isFinite(s.body.etaSeconds) && s.body.etaSeconds >= 0);
});

test.serial(
  'when admitted members go idle, then the next members are admitted in ticket order, never above capacity',
  async (t) => {
    const capacity = 3;
    const { performanceId } = await idle.performance(1, capacity);
    const members = await idle.members(12);
    const ticketOf = new Map<number, number>();
    for (const [i, m] of members.entries())
      ticketOf.set(m.id, (await join(m, performanceId, i % 2, idle)).body.ticket);
    const order: number[] = [];
    let maxAdmitted = 0;
    await eventually(
      async () => {
        const now = await admittedIds(performanceId, idle);
        maxAdmitted = Math.max(maxAdmitted, now.length);
        for (const id of now) if (!order.includes(id)) order.push(id);
        return order.length === members.length;
      },
      30_000,
      20,
    );
    t.true(maxAdmitted <= capacity, `at most ${capacity} admitted at once (saw ${maxAdmitted})`);
    const tickets = order.map((id) => ticketOf.get(id)!);
    t.deepEqual(
      tickets,
      [...tickets].sort((a, b) => a - b),
      'admitted in ticket order',
    );

    // The wait estimate of a newcomer comes from the admissions just measured.
    // (Five newcomers, so the last one still waits behind a full room for a while.)
    const newcomers = await idle.members(5);
    for (const m of newcomers) await join(m, performanceId, 0, idle);
    const later = newcomers[4];
    const rateKey = idle.ctx.waitingRoom.keys(performanceId).rate;
    await eventually(async () => {
      const s = (await status(later!, performanceId, idle)).body;
      const perMinute = Number(await idle.ctx.redis.get(rateKey));
      return (
        s.status === 'waiting' &&
        perMinute >= members.length &&
        s.etaSeconds === estimateEtaSeconds(s.position, perMinute, capacity, 2)
      );
    }, 10_000);
    t.pass();
  },
);

test.serial(
  'when the only admitted member goes idle, then the next is admitted within 2 s of the deadline without anybody polling',
  async (t) => {
    const { performanceId } = await idle.performance(1, 1);
    const [a, b] = await idle.members(2);
    const first = await join(a!, performanceId, 0, idle);
    t.is(first.body.status, 'admitted');
    await join(b!, performanceId, 1, idle);
    const deadline = Date.parse(first.body.admittedUntil!);
    await eventually(async () => (await admittedIds(performanceId, idle)).includes(b!.id), 10_000, 20);
    t.true(Date.now() - deadline <= 2000, `admitted ${Date.now() - deadline} ms after the slot freed`);
    t.is((await status(a!, performanceId, idle)).status, 404, 'the idle member lost the slot');
  },
);

test.serial(
  'when the admitted member leaves, then the next is admitted within 2 s without polling, and a leaver rejoins at the back',
  async (t) => {
    const { performanceId } = await stack.performance(1, 1);
    const [a, b, c, d] = await stack.members(4);
    t.is((await join(a!, performanceId)).body.status, 'admitted');
    await join(b!, performanceId);
    await join(c!, performanceId);
    await join(d!, performanceId);
    t.is((await leave(c!, performanceId)).status, 204);
    t.is((await status(c!, performanceId)).body['code' as keyof WaitingStatus], 'not-in-line');
    const back = await join(c!, performanceId);
    t.true(back.body.ticket > (await status(d!, performanceId)).body.ticket, 'a new ticket behind everyone');
    t.is(back.body.position, 3);
    await leave(a!, performanceId);
    const started = Date.now();
    await eventually(async () => (await admittedIds(performanceId)).includes(b!.id), 2000, 20);
    t.true(Date.now() - started <= 2000);
    t.is((await status(d!, performanceId)).body.position, 1, 'd moved up past the leaver');
  },
);

test.serial('when members poll their position until admitted, then no position ever goes up', async (t) => {
  const { performanceId } = await stack.performance(1, 4);
  const members = await stack.members(40);
  for (const m of members) await join(m, performanceId);
  const seen = new Map<number, number[]>();
  await Promise.all(
    members.map(async (m) => {
      const positions: number[] = [];
      for (;;) {
        const s = await status(m, performanceId);
        positions.push(s.body.position);
        if (s.body.status === 'admitted') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      seen.set(m.id, positions);
      await leave(m, performanceId); // finishing frees the slot
    }),
  );
  for (const [id, p] of seen) {
    for (let i = 1; i < p.length; i++) t.true(p[i]! <= p[i - 1]!, `member ${id}: ${p.join(',')}`);
    t.is(p[p.length - 1], 0);
  }
});

test.serial(
  'when a member is not admitted, then seat listing, holds and confirm answer 403 not-admitted',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(3, 1);
    const [a, b] = await stack.members(2);
    await join(a!, performanceId);
    await join(b!, performanceId);
    const seats = await stack.http('GET', `/api/performances/${performanceId}/seats`, { token: b!.token });
    t.is(seats.status, 403);
    t.is(seats.body['code'], 'not-admitted');
    const hold = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
      token: b!.token,
      body: { seatIds: [seatIds[0]] },
    });
    t.is(hold.body['code'], 'not-admitted');
    // a holds a seat, then b (not admitted) cannot confirm anything, and a loses admission when idle.
    const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token: a!.token,
      body: { seatIds: [seatIds[0]] },
    });
    const held = await stack.settle(a!.token, r.body.requestId);
    t.is(held['status'], 'succeeded');
    const list = await stack.http<{ items: { status: string }[] }>(
      'GET',
      `/api/performances/${performanceId}/seats`,
      { token: a!.token },
    );
    t.is(list.status, 200);
    t.is(list.body.items.length, 3);
    await leave(a!, performanceId);
    const confirm = await stack.http('POST', `/api/holds/${(held['hold'] as { id: number }).id}/confirm`, {
      token: a!.token,
      body: { payment: { method: 'card', token: 'approve' } },
    });
    t.is(confirm.status, 403, 'a member who left is no longer admitted');
    t.is(confirm.body['code'], 'not-admitted');
  },
);
