import test from 'ava';
import { Stack } from './helpers/stack.js';
import { assertHoldRun } from './helpers/checks.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
  await stack.spawnWorker();
  await stack.spawnWorker();
});
test.after.always(async () => stack?.close());

// A deterministic shuffle so a failure can be replayed.
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

test('when 100 members race 300 hold requests for 20 seats over 2 worker processes, then outcomes are exactly those of enqueue order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(20);
  const members = await stack.members(100);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const random = rng(42);
  const asks = members.flatMap((m) =>
    [0, 1, 2].map(() => {
      const a = seatIds[Math.floor(random() * 20)]!;
      const b = seatIds[Math.floor(random() * 20)]!;
      return { member: m, seats: a === b || random() < 0.5 ? [a] : [a, b] };
    }),
  );

  const accepted = await Promise.all(
    asks.map((ask) =>
      stack.http<{ requestId: number; position: number }>(
        'POST',
        `/api/performances/${performanceId}/holds`,
        {
          token: ask.member.token,
          body: { seatIds: ask.seats },
        },
      ),
    ),
  );
  t.true(
    accepted.every((r) => r.status === 202),
    'every request is accepted',
  );
  const finals = await Promise.all(
    accepted.map((r, i) => stack.settle(asks[i]!.member.token, r.body.requestId, 60_000)),
  );
  t.true(finals.every((f) => f['status'] === 'succeeded' || f['status'] === 'rejected'));

  await assertHoldRun(t, stack, performanceId, 300, finals);
});
