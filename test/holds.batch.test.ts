import test from 'ava';
import { QueryTypes } from 'sequelize';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { HoldRequest, Seat } from '../shared/db/models/index.js';
import { committedSeatEvents } from './helpers/checks.js';

// Batched commits must be invisible: a run of queued jobs applied in one transaction gives exactly
// the outcomes of applying them one at a time. The same scenario runs on a stack whose worker
// applies one job per transaction (BATCH_MAX_JOBS=1) and on one with the default limit.

type Step =
  | { hold: [member: number, seats: number[]] }
  | { release: [member: number, hold: string] }
  | { confirm: [member: number, hold: string] }
  | { expire: string };

/** Seats are s0..s7, members m0..m3; holds made before the batch are named. */
const setup: Record<string, [member: number, seats: number[]]> = {
  h1: [1, [1, 2]],
  h2: [2, [3]],
  h3: [3, [4]],
  h4: [0, [6]],
};
const batch: Step[] = [
  { hold: [0, [1]] }, // seat-unavailable: h1 has s1
  { release: [1, 'h1'] }, // succeeded: s1, s2 free
  { hold: [0, [1]] }, // succeeded: the release before it freed s1
  { hold: [2, [1]] }, // seat-unavailable: the hold before it took s1
  { expire: 'h2' }, // succeeded: h2 is past its expiry (set below)
  { hold: [3, [3]] }, // succeeded: the expiry before it freed s3
  { confirm: [3, 'h3'] }, // succeeded: tickets for s4, payment captured
  { hold: [3, [5, 7]] }, // succeeded: m3 holds s3 and owns s4, 2 + 2 = 4
  { hold: [3, [0]] }, // limit-exceeded: the two holds and the confirm before it count
  { confirm: [2, 'h2'] }, // hold-expired: payment voided
  { hold: [1, [2, 0]] }, // succeeded: m1's seats went back with the release
  { expire: 'h1' }, // skipped: released already
  { release: [0, 'h4'] }, // succeeded
  { confirm: [0, 'h4'] }, // hold-not-found: released just before, payment voided
  { hold: [2, [6, 1]] }, // seat-unavailable: s1 is taken, so s6 is not taken either
];

async function runScenario(batchMax: string) {
  const stack = await Stack.start({ workers: 1, env: { BATCH_MAX_JOBS: batchMax } });
  const { performanceId, seatIds } = await stack.performance(8);
  const members = await stack.members(4);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const holdRequest = async (m: TestMember, seats: number[], wait = false) =>
    stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
      token: m.token,
      body: { seatIds: seats.map((s) => seatIds[s]) },
      ...(wait ? { headers: { Prefer: 'wait=5' } } : {}),
    });

  const holds: Record<string, number> = {};
  for (const [name, [m, seats]] of Object.entries(setup)) {
    const r = await holdRequest(members[m]!, seats, true);
    const final = r.status === 200 ? r.body : await stack.settle(members[m]!.token, r.body.requestId);
    holds[name] = (final as { hold: { id: number } }).hold.id;
  }
  await stack.ctx.sequelize.query('UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?', {
    replacements: [holds['h2']],
  });
  // Nothing runs while the batch is queued.
  for (const w of stack.workers.splice(0)) await w.close();

  const queue = await stack.ctx.queues.get(performanceId);
  const requests: { requestId?: number; token?: string; authorization?: string }[] = [];
  for (const step of batch) {
    if ('expire' in step) {
      await queue.add('expire', { kind: 'expire', performanceId, holdId: holds[step.expire] });
      requests.push({});
      continue;
    }
    const [m, target] = 'hold' in step ? step.hold : 'release' in step ? step.release : step.confirm;
    const member = members[m]!;
    const r =
      'hold' in step
        ? await holdRequest(member, step.hold[1])
        : 'release' in step
          ? await stack.http<{ requestId: number }>('DELETE', `/api/holds/${holds[target as string]}`, {
              token: member.token,
            })
          : await stack.http<{ requestId: number }>('POST', `/api/holds/${holds[target as string]}/confirm`, {
              token: member.token,
              body: { payment: { method: 'card', token: 'approve-batch' } },
            });
    if (r.status !== 202)
      throw new Error(`step ${JSON.stringify(step)}: ${r.status} ${JSON.stringify(r.body)}`);
    requests.push({ requestId: r.body.requestId, token: member.token });
  }
  const waitingJobs = await queue.getWaitingCount();

  await stack.startWorker();
  const outcomes: string[] = [];
  for (const r of requests) {
    if (!r.requestId) continue;
    const f = await stack.settle(r.token!, r.requestId);
    outcomes.push(f['status'] === 'succeeded' ? 'succeeded' : String(f['reason']));
  }
  await eventually(async () => (await queue.getJobCounts('waiting', 'active')).active === 0);
  const expires = (await queue.getJobs(['completed'], 0, 100)).filter((j) => j.name === 'expire');
  const ids = requests.flatMap((r) => (r.requestId ? [r.requestId] : []));
  const rows = await HoldRequest.findAll({ where: { id: ids } });
  const transactions = new Set(rows.map((r) => r.processedAt!.getTime())).size;
  const seats = await Seat.findAll({ where: { performanceId }, order: [['id', 'ASC']] });
  const payments = await stack.ctx.sequelize.query<{ status: string; n: number }>(
    `SELECT p.status, COUNT(*) AS n FROM payments p JOIN holds h ON h.id = p.hold_id
      WHERE h.performance_id = ? GROUP BY p.status ORDER BY p.status`,
    { type: QueryTypes.SELECT, replacements: [performanceId] },
  );
  const events = (await committedSeatEvents(performanceId)).map((e) => ({
    seat: seatIds.indexOf(e.seatId),
    status: e.status,
  }));
  await stack.close();
  return {
    outcomes,
    waitingJobs,
    transactions,
    expires: expires.length,
    seats: seats.map((s) => s.status),
    payments: payments.map((p) => `${p.status}:${p.n}`),
    events,
  };
}

test('when a batch mixes holds, releases, confirms and expiries that conflict, then it gives exactly the outcomes of one job at a time', async (t) => {
  const [one, batched] = await Promise.all([runScenario('1'), runScenario('500')]);
  const expected = [
    'seat-unavailable',
    'succeeded',
    'succeeded',
    'seat-unavailable',
    'succeeded',
    'succeeded',
    'succeeded',
    'limit-exceeded',
    'hold-expired',
    'succeeded',
    'succeeded',
    'hold-not-found',
    'seat-unavailable',
  ];
  t.deepEqual(one.outcomes, expected, 'one job per transaction follows the rules in queue order');
  t.deepEqual(batched.outcomes, one.outcomes, 'the batch decides every request the same way');
  t.is(batched.waitingJobs, batch.length, 'the whole scenario was queued before the worker started');
  t.is(batched.transactions, 1, 'the batch applied every request in one transaction');
  // (Distinct commit times: two one-job transactions within one millisecond would count once.)
  t.true(one.transactions > 10, 'the reference applied one request per transaction');
  t.is(batched.expires, 2);
  t.deepEqual(batched.seats, one.seats, 'the seats end the same');
  t.deepEqual(batched.seats, ['held', 'held', 'held', 'held', 'sold', 'held', 'available', 'held']);
  t.deepEqual(batched.payments, one.payments, 'the payments end the same');
  t.deepEqual(batched.payments, ['captured:1', 'voided:2']);
  t.deepEqual(batched.events, one.events, 'the same seat events, in the same order');
});
