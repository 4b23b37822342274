import test from 'ava';
import { Stack, type TestMember } from './helpers/stack.js';
import { createRedis } from '../shared/redis.js';
import type { RoomHead, WaitingStatus } from '../shared/waiting-room/waiting-room.js';
import { pollCapSeconds } from '../shared/waiting-room/pace.js';
import { assertLineMoves } from './helpers/line.js';

// The line's pace and push, across two API processes (both in this process, each with its own view
// of the line) and one worker (the admission ticker). Admitted members lose the slot after 6 idle
// seconds, so a member who follows the pace must learn of its admission well inside that.
const IDLE = 6;
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({
    apis: 2,
    workers: 1,
    env: {
      ADMISSION_IDLE_SECONDS: String(IDLE),
      ADMISSION_TICK_MS: '200',
      RATE_LIMIT_MEMBER_PER_SECOND: '0',
    },
  });
});
test.after.always(async () => stack?.close());

const path = (id: number) => `/api/performances/${id}/waiting`;
const join = (m: TestMember, id: number, api: number) =>
  stack.http<WaitingStatus>('POST', path(id), { token: m.token, base: stack.apis[api % 2]!.url });
const read = (m: TestMember, id: number, api: number, waitSeconds = 0) =>
  stack.http<WaitingStatus>('GET', `${path(id)}${waitSeconds ? `?waitSeconds=${waitSeconds}` : ''}`, {
    token: m.token,
    base: stack.apis[api % 2]!.url,
  });
const leave = (m: TestMember, id: number) => stack.http('DELETE', path(id), { token: m.token });

/** When each ticket's admission counted (logged), from the heads the room publishes (as every API process hears them). */
async function watchAdmissions(performanceId: number) {
  const sub = createRedis(stack.config, 'blocking', 'test-heads');
  const admittedAt = new Map<number, number>();
  let through = 0;
  sub.on('message', (_channel: string, message: string) => {
    const h = JSON.parse(message) as RoomHead;
    if (h.performanceId !== performanceId) return;
    // An admission counts (the member may be told) once it is in the admission log.
    for (let t = through + 1; t <= h.logged; t++) admittedAt.set(t, h.ts);
    through = Math.max(through, h.logged);
  });
  await sub.subscribe(stack.ctx.waitingRoom.headChannel());
  return { admittedAt, close: () => sub.disconnect() };
}

test.serial(
  'when members follow nextPollSeconds and the push across two API processes, then each learns of its admission before it could be evicted, and the push tells it within 1 s',
  async (t) => {
    const { performanceId } = await stack.performance(10, 2);
    const members = await stack.members(14);
    const heads = await watchAdmissions(performanceId);
    const learned = new Map<number, { at: number; ticket: number; viaPush: boolean }>();
    const lost: string[] = [];
    const paces: number[] = [];
    try {
      await Promise.all(
        members.map(async (m, i) => {
          let s = (await join(m, performanceId, i)).body;
          let viaPush = false;
          for (let api = i + 1; s.status === 'waiting'; api++) {
            paces.push(s.nextPollSeconds);
            if (s.nextPollSeconds === 0) {
              viaPush = true;
              const r = await read(m, performanceId, api, 30);
              if (r.status !== 200) return void lost.push(`member ${m.id}: ${r.status}`);
              s = r.body;
            } else {
              viaPush = false;
              await new Promise((r) => setTimeout(r, s.nextPollSeconds * 1000));
              const r = await read(m, performanceId, api);
              if (r.status !== 200) return void lost.push(`member ${m.id}: ${r.status}`);
              s = r.body;
            }
          }
          if (s.status !== 'admitted') return void lost.push(`member ${m.id}: ${s.status}`);
          learned.set(s.ticket, { at: Date.now(), ticket: s.ticket, viaPush });
          // Shops for a second, then finishes: the next member is admitted at once.
          await new Promise((r) => setTimeout(r, 1000));
          await leave(m, performanceId);
        }),
      );
      t.deepEqual(lost, [], 'nobody lost the place or the admission before learning of it');
      t.is(learned.size, members.length);
      t.true(
        paces.every((p) => p <= pollCapSeconds(IDLE) && pollCapSeconds(IDLE) < IDLE),
        `every pace shorter than the idle limit (${[...new Set(paces)].join(', ')})`,
      );
      t.true(
        paces.some((p) => p > 0),
        'members far back were told to come back later',
      );
      const pushed = [...learned.values()].filter((l) => l.viaPush);
      t.true(pushed.length >= members.length - 4, `most learned by the push (${pushed.length})`);
      for (const l of pushed) {
        const at = heads.admittedAt.get(l.ticket);
        t.truthy(at, `ticket ${l.ticket} was admitted by a published head`);
        t.true(l.at - at! < 1000, `ticket ${l.ticket} told ${l.at - at!} ms after its admission`);
      }
    } finally {
      heads.close();
    }
  },
);

test.serial(
  'when a line longer than the exact window moves while members read it from two API processes, then positions never rise, admission follows ticket order and far-back reads are answered without Redis',
  async (t) => {
    await assertLineMoves(t, stack);
  },
);

test.serial(
  'when an admitted member stops asking, then it keeps the slot until ADMISSION_IDLE_SECONDS have passed and then loses it to the next member',
  async (t) => {
    const { performanceId } = await stack.performance(10, 1);
    const [a, b] = await stack.members(2);
    t.is((await join(a!, performanceId, 0)).body.status, 'admitted');
    t.is((await join(b!, performanceId, 1)).body.status, 'waiting');
    const admittedKey = stack.ctx.waitingRoom.keys(performanceId).admitted;
    const since = Date.now();
    await new Promise((r) => setTimeout(r, (IDLE - 2) * 1000));
    t.not(
      await stack.ctx.redis.zscore(admittedKey, String(a!.id)),
      null,
      'still admitted before the idle limit',
    );
    const s = await read(b!, performanceId, 0, 30);
    t.is(s.body.status, 'admitted', 'the long-poll of the next member answers with its admission');
    const after = Date.now() - since;
    t.true(after >= IDLE * 1000 - 50, `the slot was given away after ${after} ms, not before ${IDLE} s`);
    t.is((await read(a!, performanceId, 1)).status, 404, 'the idle member is out');
  },
);

test.serial(
  'when the status is answered, then Retry-After carries the pace and waitSeconds is bounded',
  async (t) => {
    const { performanceId } = await stack.performance(10, 1);
    const [a, b] = await stack.members(2);
    await join(a!, performanceId, 0);
    const r = await join(b!, performanceId, 1);
    t.is(r.headers.get('retry-after'), String(r.body.nextPollSeconds));
    const bad = await read(b!, performanceId, 0, 31);
    t.is(bad.status, 400);
    t.is((bad.body as unknown as { code: string }).code, 'validation-failed');
  },
);
