import test from 'ava';
import { Stack } from './helpers/stack.js';
import { Performance } from '../shared/db/models/index.js';

// Issue 17 finding 5: 400 concurrent PATCHes, 37 answered 503 after their change was committed.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
});
test.after.always(async () => stack?.close());

test('when 400 PATCHes of one performance arrive at once, then every one answers 200 and the last change is what MySQL and Redis hold', async (t) => {
  const { performanceId } = await stack.performance(1);
  const admin = await stack.admin();
  const capacities = Array.from({ length: 400 }, (_, i) => 1000 + i);
  const answers = await Promise.all(
    capacities.map((admissionCapacity) =>
      stack.http<{ admissionCapacity: number }>('PATCH', `/api/performances/${performanceId}`, {
        token: admin,
        body: { admissionCapacity },
      }),
    ),
  );
  const statuses = new Map<number, number>();
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  t.deepEqual([...statuses], [[200, 400]], 'every change is answered 200, none 5xx');
  const stored = Number((await Performance.findByPk(performanceId))!.admissionCapacity);
  t.true(capacities.includes(stored), 'MySQL holds one of the changes');
  // Each answer carries one of the changes (its own or one committed after it).
  for (const a of answers) t.true(capacities.includes(a.body.admissionCapacity));
  const gate = await stack.ctx.redis.hget(stack.ctx.waitingRoom.keys(performanceId).gate, 'capacity');
  t.is(Number(gate), stored, 'Redis carries the change MySQL kept, not an older one');
});
