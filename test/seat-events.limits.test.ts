import test from 'ava';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { SseClient } from './helpers/sse.js';
import type { SeatEventClient } from '../shared/seat-events/seat-events.js';

// Small limits, so each is reached with a handful of streams and events. Serial: the process-wide
// cap counts every stream of this API process.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({
    workers: 1,
    env: {
      SSE_MAX_REPLAY_EVENTS: '3',
      SSE_MAX_STREAMS_PER_MEMBER: '3',
      SSE_MAX_STREAMS: '5',
      SSE_MAX_BUFFERED_BYTES: '4096',
    },
  });
});
test.after.always(async () => stack?.close());

const hub = () => stack.apis[0]!.hub;
const eventsUrl = (id: number) => `${stack.url}/api/performances/${id}/seats/events`;

async function holdAll(m: TestMember, performanceId: number, seatIds: number[]) {
  await stack.admit(m.token, performanceId);
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m.token,
    body: { seatIds },
  });
  return stack.settle(m.token, r.body.requestId);
}

test.serial(
  'when a member opens more event streams than allowed, then 429 and the cap frees as streams close',
  async (t) => {
    const { performanceId } = await stack.performance(2);
    const [a, b] = await stack.members(2);
    const open = await Promise.all([1, 2, 3].map(() => SseClient.open(eventsUrl(performanceId), a!.token)));
    const fourth = await stack.http('GET', `/api/performances/${performanceId}/seats/events`, {
      token: a!.token,
    });
    t.is(fourth.status, 429, 'per member');
    t.is(fourth.body['code'], 'rate-limited');
    t.truthy(fourth.headers.get('retry-after'));
    const others = await Promise.all([1, 2].map(() => SseClient.open(eventsUrl(performanceId), b!.token)));
    const sixth = await stack.http('GET', `/api/performances/${performanceId}/seats/events`, {
      token: b!.token,
    });
    t.is(sixth.status, 429, 'per process');
    await open[0]!.close();
    await eventually(async () => hub().size === 4);
    const again = await SseClient.open(eventsUrl(performanceId), a!.token);
    for (const c of [...open.slice(1), ...others, again]) await c.close();
    await eventually(async () => hub().size === 0);
    t.pass();
  },
);

test.serial(
  'when a client reconnects further behind than the replay bound, then it is told to reload instead of replayed everything',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(4);
    const [m, watcher] = await stack.members(2);
    await holdAll(m!, performanceId, seatIds); // four events
    const far = await SseClient.open(eventsUrl(performanceId), watcher!.token, 0);
    const near = await SseClient.open(eventsUrl(performanceId), watcher!.token, 2);
    await eventually(async () => far.others.length > 0 && near.events.length === 2);
    t.deepEqual(far.events, [], 'nothing replayed beyond the bound');
    t.like(far.others[0], { event: 'reload', id: '4' });
    t.deepEqual(JSON.parse(far.others[0]!.data), { reason: 'too-far-behind', lastEventId: 4 });
    t.deepEqual(
      near.events.map((e) => e.id),
      [3, 4],
      'within the bound: replayed',
    );
    await far.close();
    await near.close();
    await eventually(async () => hub().size === 0);
  },
);

test.serial(
  'when a client reconnects with an id beyond the latest event (a reset or a restore), then it is told to reload',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(4);
    const [m, watcher] = await stack.members(2);
    await holdAll(m!, performanceId, seatIds); // four events
    const ahead = await SseClient.open(eventsUrl(performanceId), watcher!.token, 1000);
    const exact = await SseClient.open(eventsUrl(performanceId), watcher!.token, 4);
    await eventually(async () => ahead.others.length > 0);
    t.like(ahead.others[0], { event: 'reload', id: '4' });
    t.deepEqual(JSON.parse(ahead.others[0]!.data), { reason: 'unknown-id', lastEventId: 4 });
    t.deepEqual(ahead.events, []);
    t.deepEqual(exact.others, [], 'the latest id itself is no reason to reload');
    await ahead.close();
    await exact.close();
    await eventually(async () => hub().size === 0);
  },
);

test.serial(
  'when a client does not read its stream, then it is dropped instead of buffered without bound',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(4);
    const [m, watcher] = await stack.members(2);
    // A client whose connection takes nothing: everything written stays in its buffer.
    let buffered = 0;
    let ended = false;
    const stuck: SeatEventClient = {
      memberId: watcher!.id,
      lastSent: 0,
      live: false,
      pending: [],
      closed: false,
      write: (chunk) => void (buffered += chunk.length),
      buffered: () => buffered,
      end: () => void (ended = true),
    };
    hub().admit(stuck);
    await hub().add(performanceId, stuck, undefined);
    t.is(hub().size, 1);
    buffered = 5000; // past the 4 KiB bound, as a client that stopped reading would be
    await holdAll(m!, performanceId, seatIds.slice(0, 1));
    await eventually(async () => ended);
    t.is(hub().size, 0, 'the slow client is no longer registered');
    t.true(buffered <= 5000 + 200, 'nothing more was written to it');
  },
);

test.serial(
  'when clients disconnect while their stream is being set up, then none stays registered',
  async (t) => {
    const [m] = await stack.members(1);
    for (let round = 0; round < 10; round++) {
      const { performanceId } = await stack.performance(1);
      // Aborted at once: each lands at some step of the set-up (authentication, subscription).
      await Promise.all(
        [0, 1, 2].map(async (i) => {
          const ctrl = new AbortController();
          const pending = fetch(eventsUrl(performanceId), {
            headers: { authorization: `Bearer ${m!.token}` },
            signal: ctrl.signal,
          }).catch(() => undefined);
          setTimeout(() => ctrl.abort(), i * 2 + (round % 3));
          const res = await pending;
          await res?.body?.cancel().catch(() => undefined);
        }),
      );
    }
    await eventually(async () => hub().size === 0, 5000);
    t.pass();
  },
);
