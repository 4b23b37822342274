import test, { type ExecutionContext } from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { PrivateMariaDb, PrivateRedis } from './helpers/servers.js';
import { migrate } from '../shared/db/migrate.js';
import { parseConfig } from '../shared/config.js';
import { Hold, HoldRequest } from '../shared/db/models/index.js';
import { assertHoldRun } from './helpers/checks.js';

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

test.serial(
  'when a worker process is killed mid-run, then another finishes every request, in order, applied once',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    const victim = await stack.spawnWorker();
    const { performanceId, requests } = await startRun(stack, {
      seats: 60,
      members: 40,
      requests: 200,
      committed: 20,
    });
    victim.kill('SIGKILL');
    const doneAtKill = await HoldRequest.count({
      where: { performanceId, status: ['succeeded', 'rejected'] },
    });
    t.true(doneAtKill < 200, 'the worker died with work left');
    await stack.spawnWorker();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 60_000)));
    await checkInvariants(t, stack, performanceId, 200);
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
    const read = await stack.http('GET', `/api/requests/${requests[0]!.requestId}`, {
      token: requests[0]!.token,
    });
    t.is(read.status, 503);
    t.is(read.body['code'], 'unavailable');
    await new Promise((res) => setTimeout(res, 1500));
    await db.start();
    await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 90_000)));
    await checkInvariants(t, stack, performanceId, 150);
  },
);
