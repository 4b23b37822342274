import test from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { assertHoldRun, assertStreamsMatchCommits } from './helpers/checks.js';
import { PrivateRedisCluster } from './helpers/servers.js';
import { SseClient } from './helpers/sse.js';
import { assertLineMoves } from './helpers/line.js';
import { performanceTag } from '../shared/redis.js';
import { queueKeys } from '../shared/queues/names.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';

// The whole service on a private three-master Redis Cluster: two API processes in this process and
// two worker processes of their own, all configured with REDIS_CLUSTER_NODES.
let cluster: PrivateRedisCluster;
let stack: Stack;
test.before(async () => {
  cluster = await PrivateRedisCluster.create(3);
  stack = await Stack.start({ apis: 2, workers: 0, env: { REDIS_CLUSTER_NODES: cluster.nodes } });
  await stack.spawnWorker();
  await stack.spawnWorker();
});
test.after.always(async () => {
  await stack?.close();
  await cluster?.destroy();
});

// A deterministic shuffle so a failure can be replayed.
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const api = (i: number) => stack.apis[i % stack.apis.length]!.url;

async function hold(m: TestMember, performanceId: number, seatIds: number[], via = 0) {
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds },
    base: api(via),
  });
  if (r.status !== 202) throw new Error(`enqueue answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.requestId;
}

test('when 60 members race 150 hold requests for 15 seats through two API processes on a Redis Cluster, then outcomes are exactly those of enqueue order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(15);
  const members = await stack.members(60);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  const random = rng(7);
  const asks = Array.from({ length: 150 }, (_, i) => {
    const a = seatIds[Math.floor(random() * 15)]!;
    const b = seatIds[Math.floor(random() * 15)]!;
    return { member: members[i % 60]!, seats: a === b || random() < 0.5 ? [a] : [a, b] };
  });

  const requestIds = await Promise.all(asks.map((ask, i) => hold(ask.member, performanceId, ask.seats, i)));
  const finals = await Promise.all(
    requestIds.map((id, i) => stack.settle(asks[i]!.member.token, id, 60_000)),
  );
  t.true(
    finals.every((f) => f['status'] === 'succeeded' || f['status'] === 'rejected'),
    'every request is final',
  );

  await assertHoldRun(t, stack, performanceId, 150, finals);
});

test('when 200 members join the waiting room at once through two API processes on a Redis Cluster, then tickets are gap-free, exactly the capacity is admitted, and a leave admits the next', async (t) => {
  const { performanceId } = await stack.performance(1, 5);
  const members = await stack.members(200);
  const joined = await Promise.all(
    members.map((m, i) =>
      stack.http<WaitingStatus>('POST', `/api/performances/${performanceId}/waiting`, {
        token: m.token,
        base: api(i),
      }),
    ),
  );
  t.deepEqual(
    joined.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body)}`),
    [],
    'every join answered 200',
  );
  t.deepEqual(
    joined.map((r) => r.body.ticket).sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i + 1),
    'tickets 1..200, distinct and gap-free',
  );
  const admitted = joined.filter((r) => r.body.status === 'admitted');
  t.deepEqual(
    admitted.map((r) => r.body.ticket).sort((a, b) => a - b),
    [1, 2, 3, 4, 5],
    'the first five tickets are admitted',
  );
  t.deepEqual(await stack.ctx.waitingRoom.sizes(performanceId), { waiting: 195, admitted: 5 });

  const ticketOf = new Map(joined.map((r, i) => [r.body.ticket, members[i]!]));
  // The sixth member holds a long-poll on one API process; the leave goes through the other.
  let toldAt = 0;
  const pushed = stack
    .http<WaitingStatus>('GET', `/api/performances/${performanceId}/waiting?waitSeconds=30`, {
      token: ticketOf.get(6)!.token,
      base: api(0),
    })
    .then((r) => ((toldAt = Date.now()), r));
  await new Promise((r) => setTimeout(r, 300));
  const left = await stack.http('DELETE', `/api/performances/${performanceId}/waiting`, {
    token: ticketOf.get(1)!.token,
    base: api(1),
  });
  t.is(left.status, 204);
  // The leave answers once the admission it made is in the admission log (from then on it counts).
  const admittedBy = Date.now();
  const told = await pushed;
  t.is(told.body.status, 'admitted', 'the long-poll answers with the admission');
  t.true(toldAt - admittedBy < 1000, `told within 1 s of the admission (${toldAt - admittedBy} ms)`);
  const sixth = ticketOf.get(6)!;
  const now = await eventually(async () => {
    const r = await stack.http<WaitingStatus>('GET', `/api/performances/${performanceId}/waiting`, {
      token: sixth.token,
    });
    return r.body.status === 'admitted' && r.body;
  }, 5000);
  t.is(now.ticket, 6);
  // Read straight from Redis: reading through the API would count as activity.
  const admittedKey = stack.ctx.waitingRoom.keys(performanceId).admitted;
  const admittedNow = (await stack.ctx.redis.zrange(admittedKey, 0, -1)).map(Number).sort((a, b) => a - b);
  t.deepEqual(
    admittedNow,
    [2, 3, 4, 5, 6].map((ticket) => ticketOf.get(ticket)!.id).sort((a, b) => a - b),
    'tickets 2..6 are admitted, the leaver is not',
  );
  t.deepEqual(await stack.ctx.waitingRoom.sizes(performanceId), { waiting: 194, admitted: 5 });
});

test('when a line longer than the exact window moves on a Redis Cluster while members read it from two API processes, then positions never rise, admission follows ticket order and far-back reads are answered from the heads', async (t) => {
  await assertLineMoves(t, stack);
});

test('when seats are contended on a Redis Cluster, then SSE clients on both API processes see exactly the committed seat events, in order', async (t) => {
  const { performanceId, seatIds } = await stack.performance(8);
  const [watcher] = await stack.members(1);
  const path = `/api/performances/${performanceId}/seats/events`;
  const a = await SseClient.open(`${api(0)}${path}`, watcher!.token);
  const b = await SseClient.open(`${api(1)}${path}`, watcher!.token);
  t.teardown(() => Promise.all([a.close(), b.close()]));

  // 20 members race for 8 seats (two each), then release what they got.
  const members = await stack.members(20);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  await Promise.all(
    members.map(async (m, i) => {
      const id = await hold(m, performanceId, [seatIds[i % 8]!, seatIds[(i + 3) % 8]!], i);
      const h = await stack.settle(m.token, id);
      if (h['status'] !== 'succeeded') return;
      const r = await stack.http<{ requestId: number }>(
        'DELETE',
        `/api/holds/${(h['hold'] as { id: number }).id}`,
        { token: m.token, base: api(i + 1) },
      );
      await stack.settle(m.token, r.body.requestId);
    }),
  );

  await assertStreamsMatchCommits(t, performanceId, [a, b]);
});

test("when a performance's queue, waiting room and position keys are named, then Redis Cluster puts them all in one hash slot", async (t) => {
  const { performanceId, seatIds } = await stack.performance(2);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  await stack.settle(m!.token, await hold(m!, performanceId, [seatIds[0]!]));

  const prefix = stack.config.keyPrefix;
  const tag = performanceTag(performanceId);
  const queue = await stack.ctx.queues.get(performanceId);
  const waitKey = `${prefix}:q:${tag}:wait`;
  t.is(queue.keys['wait'], waitKey, 'BullMQ names the wait key as expected');
  const own = queueKeys(prefix, performanceId);
  t.is(own.wait, waitKey, 'our key layout names the same wait list');
  const keys = [...Object.values(own), ...Object.values(stack.ctx.waitingRoom.keys(performanceId))];
  t.true(keys.includes(`${prefix}:${tag}:started`));

  const slot = (key: string) => Number(cluster.cli(['cluster', 'keyslot', key]));
  const slots = new Set(keys.map(slot));
  t.is(slots.size, 1, `one slot for ${keys.join(', ')}`);
  const only = String([...slots][0]);
  t.is(Number(await stack.ctx.redis.cluster('KEYSLOT', waitKey)), Number(only), 'the client agrees');

  // And what the service actually wrote for this performance is there, on the one node serving the slot.
  const holders = cluster.ports
    .map((port) => ({ port, n: Number(cluster.cli(['cluster', 'countkeysinslot', only], port)) }))
    .filter((h) => h.n > 0);
  t.is(holders.length, 1, 'one node holds the slot');
  const inSlot = cluster.cli(['cluster', 'getkeysinslot', only, String(holders[0]!.n)], holders[0]!.port);
  const stored = inSlot.split('\n');
  t.true(stored.includes(own.started), 'the started sequence');
  t.true(stored.includes(own.expiries), "the hold's scheduled expiry");
  t.true(stored.includes(own.epoch), 'the epoch marker');
  t.true(stored.includes(stack.ctx.waitingRoom.keys(performanceId).admitted), 'the admitted set');
  t.true(
    stored.some((k) => k.startsWith(`${prefix}:q:${tag}:`)),
    'the queue keys',
  );
});
