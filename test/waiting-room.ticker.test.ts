import test from 'ava';
import { Stack, eventually } from './helpers/stack.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({
    workers: 1,
    env: { ADMISSION_IDLE_SECONDS: '1', ADMISSION_TICK_MS: '100' },
  });
});
test.after.always(async () => stack?.close());

test('when a room empties and members join again right after, then the next one is admitted within 2 s without anybody polling', async (t) => {
  const { performanceId } = await stack.performance(5, 1);
  const [a, b, c] = await stack.members(3);
  const path = `/api/performances/${performanceId}/waiting`;
  const room = stack.ctx.waitingRoom;
  t.is((await stack.http('POST', path, { token: a!.token })).body['status'], 'admitted');
  t.is((await stack.http('DELETE', path, { token: a!.token })).status, 204);
  // The ticker sees the empty room and forgets it.
  await eventually(async () => !(await room.activePerformanceIds()).includes(performanceId), 5000);
  t.is((await stack.http('POST', path, { token: b!.token })).body['status'], 'admitted');
  t.is((await stack.http('POST', path, { token: c!.token })).body['status'], 'waiting');
  // b idles out after 1 s; nobody polls: the ticker alone must let c in.
  const admittedKey = room.keys(performanceId).admitted;
  await eventually(async () => (await stack.ctx.redis.zscore(admittedKey, String(c!.id))) !== null, 3500);
  t.pass();
});
