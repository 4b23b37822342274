import test from 'ava';
import { Stack, eventually } from './helpers/stack.js';
import { assertStreamsMatchCommits, committedSeatEvents } from './helpers/checks.js';
import { SseClient } from './helpers/sse.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({
    apis: 2,
    workers: 1,
    env: { SSE_HEARTBEAT_SECONDS: '1', HOLD_TTL_SECONDS: '3' },
  });
});
test.after.always(async () => stack?.close());

/** 20 members race for 8 seats, then release what they got: many changes, some contended. */
async function contendedRun(performanceId: number, seatIds: number[], during?: () => Promise<void>) {
  const members = await stack.members(20);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const holds = await Promise.all(
    members.map((m, i) =>
      stack
        .http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
          token: m.token,
          body: { seatIds: [seatIds[i % 8]!, seatIds[(i + 3) % 8]!] },
        })
        .then((r) => stack.settle(m.token, r.body.requestId)),
    ),
  );
  await during?.();
  await Promise.all(
    holds.map(async (h, i) => {
      if (h['status'] !== 'succeeded') return;
      const r = await stack.http<{ requestId: number }>(
        'DELETE',
        `/api/holds/${(h['hold'] as { id: number }).id}`,
        {
          token: members[i]!.token,
        },
      );
      await stack.settle(members[i]!.token, r.body.requestId);
    }),
  );
}

test('when seats are contended, then every SSE client on either API process sees every change once, in commit order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(8);
  const [watcher] = await stack.members(1);
  const path = `/api/performances/${performanceId}/seats/events`;
  const a = await SseClient.open(`${stack.apis[0]!.url}${path}`, watcher!.token);
  const b = await SseClient.open(`${stack.apis[1]!.url}${path}`, watcher!.token);
  await contendedRun(performanceId, seatIds);
  await assertStreamsMatchCommits(t, performanceId, [a, b]);
  await eventually(async () => a.comments > 0, 5000);
  await Promise.all([a.close(), b.close()]);
});

test('when a client reconnects with Last-Event-ID, then it misses nothing and sees nothing twice', async (t) => {
  const { performanceId, seatIds } = await stack.performance(8);
  const [watcher] = await stack.members(1);
  const url = `${stack.url}/api/performances/${performanceId}/seats/events`;
  const first = await SseClient.open(url, watcher!.token);
  // Disconnect after the holds: the releases happen while the client is away.
  await contendedRun(performanceId, seatIds, async () => {
    await eventually(async () => first.events.length > 0, 10_000);
    await first.close();
  });
  const lastSeen = first.events[first.events.length - 1]!.id;
  const second = await SseClient.open(url, watcher!.token, lastSeen);
  const truth = await committedSeatEvents(performanceId);
  t.true(truth.length > lastSeen, 'changes were committed while the client was away');
  await eventually(async () => first.events.length + second.events.length >= truth.length, 10_000);
  t.is(second.events[0]?.id, lastSeen + 1);
  t.deepEqual([...first.events, ...second.events], truth);
  await second.close();
});

test('when a hold expires, then the stream shows its seats become available', async (t) => {
  const { performanceId, seatIds } = await stack.performance(2);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const sse = await SseClient.open(`${stack.url}/api/performances/${performanceId}/seats/events`, m!.token);
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: [seatIds[0]] },
  });
  await stack.settle(m!.token, r.body.requestId);
  await eventually(async () => sse.events.length >= 2, 15_000);
  t.deepEqual(
    sse.events.map((e) => [e.seatId, e.status]),
    [
      [seatIds[0], 'held'],
      [seatIds[0], 'available'],
    ],
  );
  await sse.close();
});
