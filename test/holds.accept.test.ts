import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { Stack, eventually, ROOT, type TestMember } from './helpers/stack.js';
import { HoldRequest, Payment } from '../shared/db/models/index.js';
import { MAX_OPEN_WAITS_PER_MEMBER } from '../api/middlewares/wait-cap.js';

// The accept path's findings of issue 17: confirm of a hold that is not held (4), a confirm key
// replayed with another payment (8), open waits per member (6), an API that dies between a
// request's insert and its enqueue.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
});
test.after.always(async () => stack?.close());

type Final = { status: string; reason?: string; hold?: { id: number; status: string } };

async function admitted(seats = 4) {
  const perf = await stack.performance(seats);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, perf.performanceId);
  return { ...perf, m: m! };
}

async function heldHold(m: TestMember, performanceId: number, seatIds: number[]): Promise<number> {
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds },
  });
  const final = (await stack.settle(m.token, r.body.requestId)) as Final;
  return final.hold!.id;
}

const confirm = (m: TestMember, holdId: number, token: string, key?: string) =>
  stack.http<{ requestId: number; code?: string }>('POST', `/api/holds/${holdId}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token } },
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });

test('when a confirmed hold is confirmed again, then 409 hold-not-held and no second authorisation', async (t) => {
  const { performanceId, seatIds, m } = await admitted();
  const holdId = await heldHold(m, performanceId, [seatIds[0]!]);
  const first = await confirm(m, holdId, 'approve-1');
  t.is(((await stack.settle(m.token, first.body.requestId)) as Final).status, 'succeeded');
  await stack.admit(m.token, performanceId);
  const again = await confirm(m, holdId, 'approve-2');
  t.is(again.status, 409);
  t.is(again.body.code, 'hold-not-held');
  t.is(await Payment.count({ where: { holdId } }), 1, 'only the first confirm authorised a payment');
});

test('when a confirm is replayed with its Idempotency-Key, then the same payment answers the same request and another payment 409', async (t) => {
  const { performanceId, seatIds, m } = await admitted();
  const holdId = await heldHold(m, performanceId, [seatIds[1]!]);
  // Nothing applied until the replays are in (a confirmed member leaves the line, and would need
  // to be admitted again).
  const pause = (holdsPaused: boolean) =>
    stack
      .admin()
      .then((token) =>
        stack.http('PATCH', `/api/performances/${performanceId}`, { token, body: { holdsPaused } }),
      );
  await pause(true);
  const first = await confirm(m, holdId, 'approve-a', 'pay-once');
  t.is(first.status, 202);
  const same = await confirm(m, holdId, 'approve-a', 'pay-once');
  t.is(same.body.requestId, first.body.requestId, 'the same payment is the same request');
  const other = await confirm(m, holdId, 'approve-b', 'pay-once');
  t.is(other.status, 409);
  t.is(other.body.code, 'idempotency-key-reused');
  t.is(await Payment.count({ where: { holdId } }), 1, 'one authorisation for the key');
  await pause(false);
  t.is(((await stack.settle(m.token, first.body.requestId)) as Final).status, 'succeeded');
  // A buyer hears of its confirm only once it has left the line, so that joining again is a new
  // admission, not the old one about to be given back.
  const line = await stack.http<{ code?: string }>('GET', `/api/performances/${performanceId}/waiting`, {
    token: m.token,
  });
  t.is(line.status, 404, JSON.stringify(line.body));
  // Still the same answer once the hold is confirmed: a replay is not a new confirm.
  await stack.admit(m.token, performanceId);
  const replay = await confirm(m, holdId, 'approve-a', 'pay-once');
  t.is(replay.body.requestId, first.body.requestId, JSON.stringify(replay.body));
});

test(`when one member opens ${MAX_OPEN_WAITS_PER_MEMBER + 1} waits at once, then the extra one is 429 with Retry-After, the others are answered and their slots come back`, async (t) => {
  const { performanceId, seatIds, m } = await admitted();
  // A queue that applies nothing, so that the request stays queued and every wait lasts.
  await stack.http('PATCH', `/api/performances/${performanceId}`, {
    token: await stack.admin(),
    body: { holdsPaused: true },
  });
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds: [seatIds[2]] },
  });
  const poll = (signal?: AbortSignal, waitSeconds = signal ? 10 : 3) =>
    fetch(`${stack.url}/api/requests/${r.body.requestId}?waitSeconds=${waitSeconds}`, {
      headers: { authorization: `Bearer ${m.token}` },
      ...(signal ? { signal } : {}),
    });
  const answers = await Promise.all(Array.from({ length: MAX_OPEN_WAITS_PER_MEMBER + 1 }, () => poll()));
  const statuses = answers.map((a) => a.status).sort();
  t.deepEqual(statuses, [...Array<number>(MAX_OPEN_WAITS_PER_MEMBER).fill(200), 429]);
  const refused = answers.find((a) => a.status === 429)!;
  t.truthy(refused.headers.get('retry-after'));
  t.is(((await refused.json()) as { code: string }).code, 'rate-limited');
  await Promise.all(answers.map((a) => (a.bodyUsed ? undefined : a.text())));

  // A wait the client gives up on gives its slot back too.
  const gone = new AbortController();
  const openedAt = Date.now();
  const abandoned = Array.from({ length: MAX_OPEN_WAITS_PER_MEMBER }, () =>
    poll(gone.signal).catch(() => undefined),
  );
  // Once a wait without side effects is refused, all of them are open.
  await eventually(
    async () =>
      (await stack.http('GET', `/api/requests/${r.body.requestId}?waitSeconds=1`, { token: m.token }))
        .status === 429,
    8000,
  );
  const full = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds: [seatIds[3]] },
    headers: { prefer: 'wait=2' },
  });
  t.is(full.status, 429, '`Prefer: wait` counts against the same cap');
  t.is(await HoldRequest.count({ where: { memberId: m.id } }), 1, 'the refused hold was not accepted');
  gone.abort();
  await Promise.all(abandoned);
  const after = await eventually(async () => {
    const a = await Promise.all(Array.from({ length: MAX_OPEN_WAITS_PER_MEMBER }, () => poll(undefined, 1)));
    return a.every((x) => x.status === 200) && a;
  }, 8000);
  t.is(after.length, MAX_OPEN_WAITS_PER_MEMBER);
  t.true(Date.now() - openedAt < 10_000, 'freed by the abort, not by the end of their 10 s waits');
});

test('when a member waits on the waiting room past the cap, then the extra wait is 429', async (t) => {
  const { performanceId } = await stack.performance(2, 1);
  const [first, m] = await stack.members(2);
  await stack.admit(first!.token, performanceId);
  const joined = await stack.http('POST', `/api/performances/${performanceId}/waiting`, { token: m!.token });
  t.is(joined.body['status'], 'waiting');
  const answers = await Promise.all(
    Array.from({ length: MAX_OPEN_WAITS_PER_MEMBER + 1 }, () =>
      stack.http('GET', `/api/performances/${performanceId}/waiting?waitSeconds=5`, { token: m!.token }),
    ),
  );
  const statuses = answers.map((a) => a.status).sort();
  t.deepEqual(
    statuses,
    [...Array<number>(MAX_OPEN_WAITS_PER_MEMBER).fill(200), 429],
    JSON.stringify(answers.map((a) => a.body)),
  );
});

/** An API process of this stack in its own OS process; resolves with its URL once it listens. */
async function spawnApi(
  env: Record<string, string>,
  on: Stack = stack,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...on.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  on.children.add(child);
  child.on('exit', () => on.children.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:[^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`api exited early with ${code}: ${out}`)));
  });
  return { child, url };
}

for (const retryAfterMs of [0, 1200]) {
  test(`when the API dies between a request's insert and its enqueue (retry after ${retryAfterMs} ms), then the request is final within 5 s and the retry with its key answers the same request, enqueued once`, async (t) => {
    const { performanceId, seatIds, m } = await admitted();
    const api = await spawnApi({ FAULT_INJECTION: 'kill-before-enqueue' });
    const lastId = async () => Number(await stack.ctx.redis.get(stack.ctx.queues.keys(performanceId).id));
    const jobsBefore = await lastId();
    const started = Date.now();
    const body = { seatIds: [seatIds[0]] };
    const headers = { 'idempotency-key': `crash-${retryAfterMs}` };
    await t.throwsAsync(
      stack.http('POST', `/api/performances/${performanceId}/holds`, {
        token: m.token,
        body,
        headers,
        base: api.url,
      }),
      undefined,
      'the client gets a reset, no request id',
    );
    const row = await eventually(
      async () => (await HoldRequest.findOne({ where: { memberId: m.id } })) ?? undefined,
      5000,
    );
    await new Promise((res) => setTimeout(res, retryAfterMs));
    const retry = await stack.http<{ requestId: number }>(
      'POST',
      `/api/performances/${performanceId}/holds`,
      {
        token: m.token,
        body,
        headers,
      },
    );
    t.true(retry.status === 202 || retry.status === 200);
    t.is(retry.body.requestId, row.id, 'the retry finds the request its key made');
    await eventually(async () => (await HoldRequest.findByPk(row.id))?.status === 'succeeded', 5000, 50);
    t.true(Date.now() - started < 5000 + retryAfterMs, 'final within 5 s of the crash');
    t.is(await lastId(), jobsBefore + 1, 'its job was added once');
    t.is(await HoldRequest.count({ where: { memberId: m.id } }), 1);
  });
}

test("when no worker is running and a retry finds its key's request never enqueued, then the retry enqueues it, once", async (t) => {
  const idle = await Stack.start({ workers: 0 });
  t.teardown(() => idle.close());
  const { performanceId, seatIds } = await idle.performance(2);
  const [m] = await idle.members(1);
  await idle.admit(m!.token, performanceId);
  const api = await spawnApi({ FAULT_INJECTION: 'kill-before-enqueue' }, idle);
  const lastId = async () => Number(await idle.ctx.redis.get(idle.ctx.queues.keys(performanceId).id));
  const before = await lastId();
  const ask = { token: m!.token, body: { seatIds: [seatIds[0]] }, headers: { 'idempotency-key': 'lost' } };
  await t.throwsAsync(
    idle.http('POST', `/api/performances/${performanceId}/holds`, { ...ask, base: api.url }),
  );
  const row = await eventually(
    async () => (await HoldRequest.findOne({ where: { memberId: m!.id } })) ?? undefined,
    5000,
  );
  await new Promise((res) => setTimeout(res, 1200));
  const answers = await Promise.all(
    [0, 1, 2].map(() =>
      idle.http<{ requestId: number; position?: number }>(
        'POST',
        `/api/performances/${performanceId}/holds`,
        ask,
      ),
    ),
  );
  t.deepEqual(
    answers.map((a) => [a.status, a.body.requestId]),
    [0, 1, 2].map(() => [202, row.id]),
  );
  t.is(await lastId(), before + 1, 'three retries at once add its job once');
  t.is((await HoldRequest.findByPk(row.id))?.queueSeq, before + 1, 'MySQL knows its place');
});
