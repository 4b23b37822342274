import test from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';

// The waiting room knows the inventory: two API processes and a worker.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ apis: 2, workers: 1 });
});
test.after.always(async () => stack?.close());

const api = (i: number) => stack.apis[i]!.url;
const join = (m: TestMember, id: number, i: number) =>
  stack.http<WaitingStatus>('POST', `/api/performances/${id}/waiting`, { token: m.token, base: api(i) });
const status = (m: TestMember, id: number, i: number) =>
  stack.http<WaitingStatus>('GET', `/api/performances/${id}/waiting`, { token: m.token, base: api(i) });
type Counts = { availableCount: number; heldCount: number; soldCount: number; soldOut: boolean };
const counts = async (id: number, i = 0) =>
  (await stack.http<Counts>('GET', `/api/performances/${id}`, { base: api(i) })).body;

async function holdAll(m: TestMember, id: number, seatIds: number[]) {
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${id}/holds`, {
    token: m.token,
    body: { seatIds },
  });
  t202(r.status);
  return stack.settle(m.token, r.body.requestId);
}
function t202(status: number) {
  if (status !== 202) throw new Error(`expected 202, got ${status}`);
}
const stockKey = (id: number) => stack.ctx.waitingRoom.keys(id).stock;
const admittedCount = (id: number) => stack.ctx.redis.zcard(stack.ctx.waitingRoom.keys(id).admitted);

test.serial(
  'when every unsold seat is held, then nobody new is admitted, and admission resumes within 2 s of a release',
  async (t) => {
    const { performanceId: id, seatIds } = await stack.performance(2, 10);
    const [a, c] = await stack.members(2);
    await stack.admit(a!.token, id);
    const held = await holdAll(a!, id, seatIds);
    t.is(held['status'], 'succeeded');
    t.like(await counts(id, 1), { availableCount: 0, heldCount: 2, soldCount: 0, soldOut: false });
    await eventually(async () => (await stack.ctx.redis.get(stockKey(id))) === 'none', 3000);

    // Room for ten, but no seat to sell: C waits, through either API process.
    t.is((await join(c!, id, 1)).body.status, 'waiting');
    const watchUntil = Date.now() + 1500;
    while (Date.now() < watchUntil) {
      const s = await status(c!, id, Date.now() % 2);
      t.is(s.body.status, 'waiting', 'not admitted while every seat is held');
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is(await admittedCount(id), 1, 'only the holder');

    const released = await stack.http<{ requestId: number }>(
      'DELETE',
      `/api/holds/${(held['hold'] as { id: number }).id}`,
      {
        token: a!.token,
      },
    );
    t.is(released.status, 202);
    const releasedAt = Date.now();
    t.is((await stack.settle(a!.token, released.body.requestId))['status'], 'succeeded');
    await eventually(async () => (await status(c!, id, 0)).body.status === 'admitted', 2500);
    t.log(`admitted ${Date.now() - releasedAt} ms after the release was accepted`);
    t.like(await counts(id), { availableCount: 2, heldCount: 0 });
  },
);

test.serial(
  'when every seat is sold, then everyone in line reads sold-out within 2 s, a join answers the same and nobody else is admitted',
  async (t) => {
    const { performanceId: id, seatIds } = await stack.performance(2, 1);
    const [a, b, c, d] = await stack.members(4);
    await stack.admit(a!.token, id);
    const before = [(await join(b!, id, 0)).body, (await join(c!, id, 1)).body];
    t.deepEqual(
      before.map((s) => s.status),
      ['waiting', 'waiting'],
    );
    const held = await holdAll(a!, id, seatIds);
    t.is(held['status'], 'succeeded');
    const confirm = await stack.http<{ requestId: number }>(
      'POST',
      `/api/holds/${(held['hold'] as { id: number }).id}/confirm`,
      { token: a!.token, body: { payment: { method: 'card', token: 'approve-1' } } },
    );
    t.is(confirm.status, 202);
    t.is((await stack.settle(a!.token, confirm.body.requestId))['status'], 'succeeded');
    const soldAt = Date.now();

    await eventually(async () => {
      const [sb, sc] = await Promise.all([status(b!, id, 1), status(c!, id, 0)]);
      return sb.body.status === 'sold-out' && sc.body.status === 'sold-out';
    }, 2500);
    t.log(`the line read sold-out ${Date.now() - soldAt} ms after the confirm succeeded`);
    const after = (await status(b!, id, 0)).body;
    t.like(after, { status: 'sold-out', ticket: before[0]!.ticket, position: 0 });

    const late = await join(d!, id, 1);
    t.is(late.status, 200);
    t.is(late.body.status, 'sold-out');
    t.like(await counts(id, 1), { availableCount: 0, heldCount: 0, soldCount: 2, soldOut: true });
    const list = await stack.http<{ items: { id: number; soldOut: boolean }[] }>('GET', '/api/performances');
    t.true(list.body.items.find((p) => p.id === id)?.soldOut);

    // Ticks keep coming; nobody is ever admitted again.
    const watchUntil = Date.now() + 1500;
    while (Date.now() < watchUntil) {
      t.is(await admittedCount(id), 0, 'nobody admitted to a sold-out sale');
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is((await join(b!, id, 0)).body.status, 'sold-out', 'a refresh reads the same');
  },
);
