import test, { type ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Stack, eventually, testEnv, type TestMember } from './helpers/stack.js';
import { PrivateMariaDb, PrivateRedis } from './helpers/servers.js';
import { migrate } from '../shared/db/migrate.js';
import { createSequelize } from '../shared/db/sequelize.js';
import { parseConfig } from '../shared/config.js';
import { createRedis } from '../shared/redis.js';
import { requestDoneChannel } from '../shared/queues/names.js';
import { Hold, HoldRequest, Payment, SeatEvent } from '../shared/db/models/index.js';
import { assertHoldRun, committedSeatEvents } from './helpers/checks.js';

const CommitOutbox = {
  async count(performanceId: number): Promise<number> {
    const [row] = (await HoldRequest.sequelize!.query(
      'SELECT COUNT(*) AS n FROM commit_outbox WHERE performance_id = ?',
      { replacements: [performanceId], plain: false, raw: true, type: 'SELECT' },
    )) as { n: number }[];
    return Number(row?.n ?? 0);
  },
};

// Each test has its own stack; some run their own MariaDB or Redis, to crash them.

/** Sends `n` single-seat hold requests for `seats` seats, round-robin over the members. */
async function burst(
  stack: Stack,
  performanceId: number,
  seatIds: number[],
  members: TestMember[],
  n: number,
) {
  const out: { requestId: number; token: string }[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const m = members[i % members.length]!;
      const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
        token: m.token,
        body: { seatIds: [seatIds[i % seatIds.length]] },
      });
      if (r.status !== 202) throw new Error(`enqueue answered ${r.status}`);
      out.push({ requestId: r.body.requestId, token: m.token });
    }),
  );
  return out;
}

/** The hold invariants of the run, and no request applied twice (one hold per succeeded request). */
async function checkInvariants(t: ExecutionContext, stack: Stack, performanceId: number, expected: number) {
  await assertHoldRun(t, stack, performanceId, expected);
  const succeeded = await HoldRequest.count({ where: { performanceId, status: 'succeeded' } });
  t.is(await Hold.count({ where: { performanceId } }), succeeded, 'no request applied twice');
}

/** A performance, admitted members and a burst of holds, returned once some have committed. */
async function startRun(
  stack: Stack,
  o: { seats: number; members: number; requests: number; committed: number },
) {
  const { performanceId, seatIds } = await stack.performance(o.seats);
  const members = await stack.members(o.members);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const requests = await burst(stack, performanceId, seatIds, members, o.requests);
  await eventually(
    async () => (await HoldRequest.count({ where: { performanceId, status: 'succeeded' } })) > o.committed,
    20_000,
    5,
  );
  return { performanceId, requests };
}

/** The signal that ended a child process, once it has ended. */
function ended(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

async function finalCount(performanceId: number): Promise<number> {
  return HoldRequest.count({ where: { performanceId, status: ['succeeded', 'rejected'] } });
}

test.serial(
  'when a worker process is killed mid-run, then another finishes every request, in order, applied once',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    const victim = await stack.spawnWorker();
    const { performanceId, seatIds } = await stack.performance(60);
    const members = await stack.members(40);
    await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
    // The worker dies while requests are still arriving (it keeps up with them, so it is killed
    // as soon as it has committed some).
    const sending = burst(stack, performanceId, seatIds, members, 400);
    await eventually(async () => (await finalCount(performanceId)) > 20, 20_000, 2);
    victim.kill('SIGKILL');
    t.is(await ended(victim), 'SIGKILL');
    const doneAtKill = await finalCount(performanceId);
    const requests = await sending;
    t.true(doneAtKill < 400, 'the worker died with work left');
    await stack.spawnWorker();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 60_000)));
    await checkInvariants(t, stack, performanceId, 400);
  },
);

test.serial(
  'when a worker process is SIGKILLed in the middle of a batch, then another applies every request once, in order',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    const { performanceId, seatIds } = await stack.performance(60);
    const members = await stack.members(40);
    await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
    const requests = await burst(stack, performanceId, seatIds, members, 200);
    // The worker takes the 200 queued requests into one batch and dies inside its transaction.
    const victim = await stack.spawnWorker({ FAULT_INJECTION: 'kill-before-commit' }, { ready: false });
    t.is(await ended(victim), 'SIGKILL', 'the worker died in the middle of its batch');
    t.is(await finalCount(performanceId), 0, 'its transaction rolled back: nothing was applied');
    t.is(await SeatEvent.count({ where: { performanceId } }), 0);
    await stack.spawnWorker();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 60_000)));
    await checkInvariants(t, stack, performanceId, 200);
    const events = await committedSeatEvents(performanceId);
    t.deepEqual(
      events.map((e) => e.id),
      events.map((_, i) => i + 1),
      'seat events numbered without a gap or a repeat',
    );
  },
);

test.serial(
  'when a worker dies after its commit and before the after-commit steps, then another captures, voids, announces and schedules the expiry exactly once',
  async (t) => {
    const stack = await Stack.start({ workers: 1 });
    t.teardown(() => stack.close());
    const { performanceId, seatIds } = await stack.performance(4);
    const [a, b, c] = await stack.members(3);
    await Promise.all([a!, b!, c!].map((m) => stack.admit(m.token, performanceId)));
    const holdOf = async (m: TestMember, seat: number) => {
      const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
        token: m.token,
        body: { seatIds: [seatIds[seat]] },
      });
      return (await stack.settle(m.token, r.body.requestId)) as { hold: { id: number } };
    };
    const ha = (await holdOf(a!, 0)).hold.id;
    const hb = (await holdOf(b!, 1)).hold.id;
    for (const w of stack.workers.splice(0)) await w.close();

    // One batch: b releases, a confirms (a capture), b confirms its released hold (a void), c holds.
    const pay = { payment: { method: 'card', token: 'approve-after-commit' } };
    const send = (method: string, path: string, m: TestMember, body?: unknown) =>
      stack.http<{ requestId: number }>(method, path, { token: m.token, ...(body ? { body } : {}) });
    const release = await send('DELETE', `/api/holds/${hb}`, b!);
    const confirmA = await send('POST', `/api/holds/${ha}/confirm`, a!, pay);
    const confirmB = await send('POST', `/api/holds/${hb}/confirm`, b!, pay);
    const holdC = await send('POST', `/api/performances/${performanceId}/holds`, c!, {
      seatIds: [seatIds[2]],
    });
    const ids = [release, confirmA, confirmB, holdC].map((r) => r.body.requestId);
    const authOf = async (holdId: number, memberId: number) =>
      (await Payment.findOne({ where: { holdId, memberId } }))!.authorizationId;
    const [authA, authB] = [await authOf(ha, a!.id), await authOf(hb, b!.id)];

    const announced: number[] = [];
    const listener = createRedis(stack.config, 'blocking', 'test-announcements');
    t.teardown(() => listener.disconnect());
    await listener.subscribe(requestDoneChannel(stack.ctx.channels));
    listener.on('message', (_channel: string, message: string) =>
      announced.push(...(JSON.parse(message) as { ids: number[] }).ids),
    );

    const victim = await stack.spawnWorker({ FAULT_INJECTION: 'kill-after-commit' }, { ready: false });
    t.is(await ended(victim), 'SIGKILL');
    t.is(await finalCount(performanceId), 4 + 2, 'the batch committed (with the two holds before it)');
    t.is(await CommitOutbox.count(performanceId), 1, 'its after-commit work is recorded');
    const gateway = stack.ctx.payments;
    t.like(await gateway.ledger(authA), { status: 'authorized', captureCalls: 0 }, 'not captured yet');
    t.like(await gateway.ledger(authB), { status: 'authorized', voidCalls: 0 }, 'not voided yet');
    const holdIdC = (await Hold.findOne({ where: { requestId: ids[3] } }))!.id;
    const expiries = stack.ctx.queues.keys(performanceId).expiries;
    t.is(await stack.ctx.redis.zscore(expiries, String(holdIdC)), null, 'no expiry scheduled yet');
    t.is(
      (await stack.http('GET', `/api/performances/${performanceId}/waiting`, { token: a!.token })).status,
      200,
    );
    t.deepEqual(
      announced.filter((id) => ids.includes(id)),
      [],
      'nothing announced yet',
    );

    await stack.spawnWorker();
    await eventually(async () => (await gateway.ledger(authA))?.status === 'captured', 30_000);
    await eventually(async () => (await CommitOutbox.count(performanceId)) === 0, 10_000);
    t.like(await gateway.ledger(authA), { status: 'captured', captureCalls: 1, voidCalls: 0 });
    t.like(await gateway.ledger(authB), { status: 'voided', captureCalls: 0, voidCalls: 1 });
    t.not(await stack.ctx.redis.zscore(expiries, String(holdIdC)), null, "c's expiry is scheduled");
    const left = await stack.http('GET', `/api/performances/${performanceId}/waiting`, { token: a!.token });
    t.is(left.status, 404, 'the buyer left the waiting room');
    for (const id of ids)
      t.is(announced.filter((x) => x === id).length, 1, `request ${id} announced exactly once`);
  },
);

test.serial(
  'when Redis loses everything (FLUSHALL) before and during a run, then every accepted request reaches its final status, in order, one job at a time',
  async (t) => {
    const redis = await PrivateRedis.create();
    t.teardown(() => redis.destroy());
    const database = `ticketing_flush_${randomBytes(3).toString('hex')}`;
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: `mysql://root@127.0.0.1:3306/${database}`,
    };
    await migrate(parseConfig(testEnv(env)));
    const stack = await Stack.start({ workers: 0, env });
    t.teardown(async () => {
      await stack.close();
      const admin = createSequelize(parseConfig(testEnv()));
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.close();
    });
    const { performanceId, seatIds } = await stack.performance(20);
    const members = await stack.members(30);
    await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
    const k = stack.ctx.queues.keys(performanceId);
    const flusher = new Redis(redis.url);
    t.teardown(() => flusher.disconnect());

    // 60 requests, one after another, while no worker runs; then Redis forgets them.
    const first: { requestId: number; token: string }[] = [];
    for (let i = 0; i < 60; i++)
      first.push(...(await burst(stack, performanceId, [seatIds[i % 20]!], [members[i % 30]!], 1)));
    await eventually(
      async () => (await HoldRequest.count({ where: { performanceId, queueSeq: null } })) === 0 || undefined,
      5_000,
    );
    await flusher.flushall();
    // The waiting room went with it: members join again. 40 more requests while the queue's state
    // is gone, then two worker processes.
    await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
    const second = await burst(stack, performanceId, seatIds, members, 40);

    // Watch the running jobs: after each restore, no two jobs queued after it run at once.
    let watching = true;
    let overlap = 0;
    let running = 0;
    let floor = Infinity;
    t.teardown(() => (watching = false));
    const watch = (async () => {
      while (watching) {
        const [epoch, applied, active] = await Promise.all([
          flusher.exists(k.epoch),
          flusher.get(k.applied),
          flusher.lrange(k.active, 0, -1),
        ]);
        if (!epoch) floor = Infinity;
        else if (floor === Infinity) floor = Number(applied ?? 0);
        const after = active.filter((id) => Number(id) > floor).length;
        if (after > 1) overlap++;
        if (after === 1) running++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await stack.spawnWorker();
    await stack.spawnWorker();
    await Promise.all([...first, ...second].map((r) => stack.settle(r.token, r.requestId, 60_000)));

    // 100 more with the workers running; Redis forgets everything again in the middle (from then
    // on a member who is not admitted again is refused: only accepted requests count).
    const third = Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const m = members[i % members.length]!;
        const r = await stack.http<{ requestId: number }>(
          'POST',
          `/api/performances/${performanceId}/holds`,
          {
            token: m.token,
            body: { seatIds: [seatIds[i % seatIds.length]] },
          },
        );
        if (r.status !== 202 && r.status !== 403) throw new Error(`enqueue answered ${r.status}`);
        return r.status === 202 ? [{ requestId: r.body.requestId, token: m.token }] : [];
      }),
    );
    await eventually(async () => (await finalCount(performanceId)) > 110, 20_000, 5);
    await flusher.flushall();
    const rest = (await third).flat();
    t.true(rest.length > 10, `${rest.length} of the last 100 accepted`);
    await Promise.all(rest.map((r) => stack.settle(r.token, r.requestId, 60_000)));
    watching = false;
    await watch;

    await checkInvariants(t, stack, performanceId, 100 + rest.length);
    const order = await HoldRequest.findAll({
      where: { id: first.map((r) => r.requestId) },
      order: [['queueSeq', 'ASC']],
    });
    t.deepEqual(
      order.map((r) => r.id),
      first.map((r) => r.requestId),
      'the requests Redis forgot were applied in the order they were accepted',
    );
    await eventually(async () => (await flusher.hget(k.meta, 'concurrency')) === '1', 10_000);
    t.is(await flusher.hget(k.meta, 'concurrency'), '1', 'global concurrency 1 is back');
    t.true(running > 0, 'jobs were seen running after a restore');
    t.is(overlap, 0, 'after each restore, one job ran at a time');
  },
);

test.serial(
  'when the worker restarts, then a hold still expires on time (nothing in process memory decides it)',
  async (t) => {
    const stack = await Stack.start({ workers: 0, env: { HOLD_TTL_SECONDS: '3' } });
    t.teardown(() => stack.close());
    const { performanceId, seatIds } = await stack.performance(2);
    const [m] = await stack.members(1);
    await stack.admit(m!.token, performanceId);
    const worker = await stack.spawnWorker();
    const [r] = await burst(stack, performanceId, [seatIds[0]!], [m!], 1);
    const held = await stack.settle(m!.token, r!.requestId);
    const holdId = (held['hold'] as { id: number }).id;
    worker.kill('SIGKILL');
    await new Promise((res) => setTimeout(res, 3500)); // the hold's TTL passes while no worker runs
    t.is((await Hold.findByPk(holdId))?.status, 'held');
    await stack.spawnWorker();
    await eventually(async () => (await Hold.findByPk(holdId))?.status === 'expired', 20_000);
    t.pass();
  },
);

test.serial(
  'when Redis (with AOF) is killed and restarted mid-run, then every accepted request reaches a final status',
  async (t) => {
    const redis = await PrivateRedis.create();
    t.teardown(() => redis.destroy());
    const stack = await Stack.start({ workers: 1, env: { REDIS_URL: redis.url } });
    t.teardown(() => stack.close());
    const { performanceId, requests } = await startRun(stack, {
      seats: 40,
      members: 30,
      requests: 150,
      committed: 10,
    });
    await redis.kill();
    const unavailable = await stack.http('GET', `/api/requests/${requests[0]!.requestId}`, {
      token: requests[0]!.token,
    });
    t.true(
      [200, 503].includes(unavailable.status),
      'reads that need Redis answer 503, never a hang or a 500',
    );
    await new Promise((res) => setTimeout(res, 1500));
    await redis.start();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 90_000)));
    await checkInvariants(t, stack, performanceId, 150);
  },
);

test.serial(
  'when MySQL is killed and restarted mid-run, then every accepted request reaches a final status, applied once',
  async (t) => {
    const db = await PrivateMariaDb.create();
    t.teardown(() => db.destroy());
    const env = { DATABASE_URL: db.url('ticketing') };
    await migrate(parseConfig({ ...env }));
    const stack = await Stack.start({ workers: 1, env });
    t.teardown(() => stack.close());
    const { performanceId, requests } = await startRun(stack, {
      seats: 40,
      members: 30,
      requests: 150,
      committed: 10,
    });
    await db.kill();
    const down = await stack.http('GET', `/readyz`);
    t.is(down.status, 503);
    t.is(down.headers.get('retry-after'), '2');
    // (A request this API process accepted may be answered from what it heard; a member's holds
    // are always read from MySQL.)
    const read = await stack.http('GET', `/api/me/holds`, { token: requests[0]!.token });
    t.is(read.status, 503);
    t.is(read.body['code'], 'unavailable');
    await new Promise((res) => setTimeout(res, 1500));
    await db.start();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 90_000)));
    await checkInvariants(t, stack, performanceId, 150);
  },
);
