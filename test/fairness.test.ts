import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { PrivateRedis } from './helpers/servers.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';
import { GENESIS, entryHashOf } from '../shared/domain/fairness.js';
import { verifyFairness, type Receipt } from '../scripts/lib/fairness-verifier.js';
import { Fairness } from '../shared/fairness/fairness.service.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ env: { ADMISSION_TICK_MS: '200' } });
});
test.after.always(async () => stack?.close());

const path = (id: number) => `/api/performances/${id}/waiting`;
const join = (s: Stack, m: TestMember, id: number) =>
  s.http<WaitingStatus>('POST', path(id), { token: m.token });
const read = (s: Stack, m: TestMember, id: number) =>
  s.http<WaitingStatus>('GET', path(id), { token: m.token });
const leave = (s: Stack, m: TestMember, id: number) => s.http('DELETE', path(id), { token: m.token });

/** Lets every admitted member finish at once (leave), until everyone in `members` was admitted. */
async function drainLine(s: Stack, id: number, members: TestMember[], timeoutMs = 30_000): Promise<void> {
  const done = new Set<number>();
  await eventually(
    async () => {
      await Promise.all(
        members
          .filter((m) => !done.has(m.id))
          .map(async (m) => {
            if ((await read(s, m, id)).body.status === 'admitted') {
              done.add(m.id);
              await leave(s, m, id);
            }
          }),
      );
      return done.size === members.length;
    },
    timeoutMs,
    100,
  );
}

type Row = Record<string, unknown>;
const logRows = (s: Stack, id: number) =>
  s.ctx.sequelize.query<Row>('SELECT * FROM admission_log WHERE performance_id = ? ORDER BY n', {
    type: QueryTypes.SELECT,
    replacements: [id],
  });

/** Puts the log rows back as they were (after a tampering). */
async function restore(s: Stack, id: number, rows: Row[]): Promise<void> {
  await s.ctx.sequelize.query('DELETE FROM admission_log WHERE performance_id = ?', { replacements: [id] });
  for (const r of rows)
    await s.ctx.sequelize.query(
      `INSERT INTO admission_log (${Object.keys(r)
        .map((k) => `\`${k}\``)
        .join(',')}) VALUES (?)`,
      {
        // Replacements drop a Date's milliseconds: pass the UTC wall time as text.
        replacements: [
          Object.values(r).map((v) =>
            v instanceof Date ? v.toISOString().replace('T', ' ').replace('Z', '') : v,
          ),
        ],
      },
    );
}

/** Rewrites the chain from entry `from` on, as a forger who knows the rules would. */
async function rechain(s: Stack, id: number): Promise<void> {
  let prev = GENESIS;
  for (const r of await logRows(s, id)) {
    const e = {
      n: Number(r['n']),
      prev,
      epoch: String(r['room_gen']),
      ticket: Number(r['ticket']),
      memberHash: String(r['member_hash']),
      at: new Date(r['admitted_at'] as Date).toISOString(),
      trigger: String(r['trigger']),
      capacity: Number(r['capacity']),
      occupancy: Number(r['occupancy']),
      perMinute: Number(r['per_minute']),
    };
    prev = entryHashOf(e);
    await s.ctx.sequelize.query(
      'UPDATE admission_log SET prev = ?, hash = ? WHERE performance_id = ? AND n = ?',
      {
        replacements: [e.prev, prev, id, e.n],
      },
    );
  }
  await s.ctx.sequelize.query('UPDATE fairness_draws SET log_head = ? WHERE performance_id = ?', {
    replacements: [prev, id],
  });
}

async function expectBroken(t: ExecutionContext, id: number, entry: number | undefined, what: RegExp) {
  const v = await verifyFairness(stack.url, id);
  t.false(v.ok, `verify caught it: ${v.lines.join(' / ')}`);
  t.is(v.entry, entry, `it names entry ${entry}`);
  t.regex(v.lines[v.lines.length - 1]!, what);
}

test.serial(
  'when a shuffle-at-open sale opens, then the pre-queue is drawn as committed, admitted in drawn order, and verify holds until anything is tampered with',
  async (t) => {
    const { performanceId: id } = await stack.performance(50, 3);
    const admin = await stack.admin();
    // Long enough for 20 joins on a busy machine: every one of them must land before the opening.
    const opensAt = new Date(Date.now() + 10_000);
    const patched = await stack.http('PATCH', `/api/performances/${id}`, {
      token: admin,
      body: { salesOpenAt: opensAt.toISOString(), queueMode: 'shuffle-at-open' },
    });
    t.is(patched.status, 200);
    t.is(patched.body['queueMode'], 'shuffle-at-open');
    const before = await stack.http('GET', `/api/performances/${id}/fairness`);
    t.is(before.status, 200);
    t.regex(String(before.body['commitment']), /^[0-9a-f]{64}$/);
    t.is(before.body['seed'], undefined, 'the seed stays secret before opening');

    const members = await stack.members(20);
    for (const m of members) {
      const r = await join(stack, m, id);
      t.is(r.body.status, 'waiting');
      t.false('position' in r.body, 'no position in the pre-queue');
      t.is(r.body.drawAt, opensAt.toISOString());
    }
    // A refresh keeps the pre-queue entry (and adds no second one).
    const again = await join(stack, members[3]!, id);
    t.is(again.body.drawAt, opensAt.toISOString());
    t.is(await stack.ctx.redis.zcard(stack.ctx.waitingRoom.keys(id).pre), 20);
    t.is((await read(stack, members[3]!, id)).body.drawAt, opensAt.toISOString());

    // At opening: the draw is applied and admission begins, in the drawn order.
    await drainLine(stack, id, members);
    const pub = (await stack.http('GET', `/api/performances/${id}/fairness`)).body;
    t.regex(String(pub['seed']), /^[0-9a-f]{64}$/, 'the seed is revealed');
    t.is(pub['rosterSize'], 20);
    t.is((pub['log'] as { length: number }).length, 20);
    const ok = await verifyFairness(stack.url, id);
    t.true(ok.ok, ok.lines.join('\n'));
    const firstAt = ((await logRows(stack, id))[0]!['admitted_at'] as Date).getTime();
    t.log(`first admission ${firstAt - opensAt.getTime()} ms after opening`);

    // A member's receipt holds.
    const receipt = (
      await stack.http<Receipt>('GET', `/api/performances/${id}/waiting/receipt`, {
        token: members[5]!.token,
      })
    ).body;
    t.truthy(receipt.draw);
    t.truthy(receipt.admission);
    t.true((await verifyFairness(stack.url, id, receipt)).ok);

    const rows = await logRows(stack, id);
    // A forged entry.
    await stack.ctx.sequelize.query(
      'UPDATE admission_log SET admitted_at = admitted_at - INTERVAL 1 SECOND WHERE performance_id = ? AND n = 7',
      {
        replacements: [id],
      },
    );
    await expectBroken(t, id, 7, /hash does not match/);
    await restore(stack, id, rows);
    t.true((await verifyFairness(stack.url, id)).ok, 'restored');
    // A swapped pair (entries 4 and 5 trade places).
    await stack.ctx.sequelize.query(
      'UPDATE admission_log SET n = CASE n WHEN 4 THEN 1004 WHEN 5 THEN 4 END WHERE performance_id = ? AND n IN (4, 5)',
      { replacements: [id] },
    );
    await stack.ctx.sequelize.query('UPDATE admission_log SET n = 5 WHERE performance_id = ? AND n = 1004', {
      replacements: [id],
    });
    await expectBroken(t, id, 4, /expected entry|does not link|hash does not match/);
    await restore(stack, id, rows);
    // A member admitted out of order: two members trade admissions, and the chain is rewritten to match.
    const h2 = rows[1]!['member_hash'];
    const h3 = rows[2]!['member_hash'];
    await stack.ctx.sequelize.query(
      'UPDATE admission_log SET member_hash = CASE n WHEN 2 THEN ? ELSE ? END WHERE performance_id = ? AND n IN (2, 3)',
      { replacements: [h3, h2, id] },
    );
    await rechain(stack, id);
    await expectBroken(t, id, 2, /drawn to place/);
    await restore(stack, id, rows);
    await rechain(stack, id);
    t.true((await verifyFairness(stack.url, id)).ok, 'restored');
    // A seed that does not match its commitment.
    await stack.ctx.sequelize.query('UPDATE fairness_draws SET seed = ? WHERE performance_id = ?', {
      replacements: ['11'.repeat(32), id],
    });
    await expectBroken(t, id, undefined, /seed does not match its commitment/);
  },
);

test.serial(
  'when a fifo sale admits, then its log follows ticket order within the capacity and verifies',
  async (t) => {
    const { performanceId: id } = await stack.performance(50, 2);
    const members = await stack.members(12);
    for (const m of members) await join(stack, m, id);
    await drainLine(stack, id, members);
    const v = await verifyFairness(stack.url, id);
    t.true(v.ok, v.lines.join('\n'));
    t.is(v.entries, 12);
    // A member admitted out of order, with a chain rewritten to match: the tickets say so.
    await stack.ctx.sequelize.query(
      'UPDATE admission_log SET ticket = CASE n WHEN 5 THEN 6 ELSE 5 END WHERE performance_id = ? AND n IN (5, 6)',
      { replacements: [id] },
    );
    await rechain(stack, id);
    await expectBroken(t, id, 6, /out of order/);
  },
);

test.serial(
  'when three log writers write one room at once while it admits, then each admission is in the log once, in the order admitted, and the chain verifies',
  async (t) => {
    const { performanceId: id } = await stack.performance(50, 100_000);
    const room = stack.ctx.waitingRoom;
    // Two more writers (as two more worker processes would be) race the workers' writer throughout.
    const writers = [1, 2].map(() => new Fairness(stack.ctx.sequelize, room, stack.ctx.logger));
    const failures: unknown[] = [];
    let joining = true;
    const racing = writers.map(async (w) => {
      while (joining) {
        await w.drain(id).catch((err: unknown) => failures.push(err));
        await new Promise((r) => setTimeout(r, Math.random() * 10));
      }
    });
    const N = 600;
    for (let i = 0; i < N; i += 25)
      await Promise.all(
        Array.from({ length: 25 }, (_, j) => room.join(id, 40_000_000 + i + j, 100_000, async () => 'open')),
      );
    await eventually(async () => (await room.loggedThrough(id)) >= N, 20_000);
    joining = false;
    await Promise.all(racing);
    t.deepEqual(failures, [], 'no writer failed');
    const rows = await logRows(stack, id);
    t.is(rows.length, N, 'every admission once');
    t.deepEqual(
      rows.map((r) => Number(r['n'])),
      Array.from({ length: N }, (_, i) => i + 1),
      'entries 1..N, no gap',
    );
    t.deepEqual(
      rows.map((r) => Number(r['rseq'])),
      Array.from({ length: N }, (_, i) => i + 1),
      'in the order the room admitted',
    );
    t.is(new Set(rows.map((r) => Number(r['member_id']))).size, N, 'no member twice');
    const v = await verifyFairness(stack.url, id);
    t.true(v.ok, v.lines.join('\n'));
    t.is(v.entries, N);
  },
);

test.serial(
  'when the outflow cap is set, then admissions within any minute never exceed it and the ETA accounts for it',
  async (t) => {
    const { performanceId: id } = await stack.performance(50, 100);
    const admin = await stack.admin();
    const r = await stack.http('PATCH', `/api/performances/${id}`, {
      token: admin,
      body: { admissionsPerMinute: 5 },
    });
    t.is(r.status, 200);
    t.is(r.body['admissionsPerMinute'], 5);
    const members = await stack.members(9);
    const joined = [];
    for (const m of members) joined.push((await join(stack, m, id)).body);
    t.is(joined.filter((s) => s.status === 'admitted').length, 5, 'five admitted, the cap');
    await new Promise((res) => setTimeout(res, 800)); // a few ticks: still nobody more
    t.is((await stack.ctx.waitingRoom.sizes(id)).admitted, 5);
    const last = (await read(stack, members[8]!, id)).body;
    t.is(last.status, 'waiting');
    t.true(
      last.etaSeconds >= 4 * 12 - 1,
      `4th in line at 5 a minute waits about 48 s (eta ${last.etaSeconds})`,
    );
    t.true((await verifyFairness(stack.url, id)).ok);
  },
);

test.serial(
  'when Redis loses everything (FLUSHALL) during a sale, then no log entry is lost and the chain stays intact',
  async (t) => {
    const redis = await PrivateRedis.create();
    t.teardown(() => redis.destroy());
    const s = await Stack.start({ env: { REDIS_URL: redis.url, ADMISSION_TICK_MS: '200' } });
    t.teardown(() => s.close());
    const { performanceId: id } = await s.performance(50, 3);
    const members = await s.members(16);
    for (const m of members.slice(0, 8)) await join(s, m, id);
    // Everyone who learnt of its admission before the loss is in the log.
    const told: number[] = [];
    await eventually(
      async () => {
        for (const m of members.slice(0, 8))
          if (!told.includes(m.id) && (await read(s, m, id)).body.status === 'admitted') {
            told.push(m.id);
            await leave(s, m, id);
          }
        return told.length >= 5;
      },
      20_000,
      100,
    );
    const before = await logRows(s, id);
    const flusher = new Redis(redis.url);
    t.teardown(() => flusher.disconnect());
    await flusher.flushall();
    // The room starts again (members join again); the log goes on, in a new epoch.
    await eventually(async () => (await flusher.exists(s.ctx.waitingRoom.keys(id).gate)) === 1, 10_000);
    for (const m of members.slice(8)) await join(s, m, id);
    await drainLine(s, id, members.slice(8));
    const after = await logRows(s, id);
    t.deepEqual(
      after.slice(0, before.length),
      before,
      'every entry written before the loss is kept, unchanged',
    );
    const loggedIds = new Set(after.map((r) => Number(r['member_id'])));
    for (const m of told) t.true(loggedIds.has(m), `member ${m}, told it was admitted, is in the log`);
    for (const m of members.slice(8))
      t.true(loggedIds.has(m.id), `member ${m.id} admitted after the loss is in the log`);
    t.true(new Set(after.map((r) => String(r['room_gen']))).size >= 2, 'a new epoch after the loss');
    const v = await verifyFairness(s.url, id);
    t.true(v.ok, v.lines.join('\n'));
    t.is(v.entries, after.length);
  },
);

test.serial(
  'when a worker dies between applying the draw and recording it, then the next worker records the same draw and verify holds',
  async (t) => {
    const s = await Stack.start({ workers: 0, env: { ADMISSION_TICK_MS: '200' } });
    t.teardown(() => s.close());
    const { performanceId: id } = await s.performance(50, 3);
    const keys = s.ctx.waitingRoom.keys(id);
    const opensAt = new Date(Date.now() + 4_000);
    const patched = await s.http('PATCH', `/api/performances/${id}`, {
      token: await s.admin(),
      body: { salesOpenAt: opensAt.toISOString(), queueMode: 'shuffle-at-open' },
    });
    t.is(patched.status, 200);
    const members = await s.members(12);
    for (const m of members) t.is((await join(s, m, id)).body.drawAt, opensAt.toISOString());
    // This worker applies the draw at opening (admission begins in Redis) and dies before recording it.
    const victim = await s.spawnWorker({ FAULT_INJECTION: 'kill-before-reveal' }, { ready: false });
    const signal = await new Promise((r) => victim.once('exit', (_code, sig) => r(sig)));
    t.is(signal, 'SIGKILL', 'the worker died at that point');
    t.is(await s.ctx.redis.exists(keys.drawn), 1, 'the draw was applied');
    const unrecorded = (await s.http('GET', `/api/performances/${id}/fairness`)).body;
    t.is(unrecorded['seed'], undefined, 'nothing was revealed');
    // The next worker records the draw that was applied (the seed, the roster and its root).
    await s.startWorker();
    await eventually(
      async () => (await s.http('GET', `/api/performances/${id}/fairness`)).body['seed'] !== undefined,
      20_000,
      100,
    );
    await drainLine(s, id, members);
    const pub = (await s.http('GET', `/api/performances/${id}/fairness`)).body;
    t.is(pub['rosterSize'], 12);
    t.is(await s.ctx.redis.exists(keys.roster), 0, 'the roster is forgotten once recorded');
    const v = await verifyFairness(s.url, id);
    t.true(v.ok, v.lines.join('\n'));
    t.is(v.entries, 12);
  },
);

test.serial(
  'when a member joins after the opening but before the draw is applied, then its position counts the whole roster ahead and does not rise once drawn',
  async (t) => {
    const s = await Stack.start({ workers: 0, env: { ADMISSION_TICK_MS: '200' } });
    t.teardown(() => s.close());
    const { performanceId: id } = await s.performance(50, 2);
    const opensAt = new Date(Date.now() + 3_000);
    const patched = await s.http('PATCH', `/api/performances/${id}`, {
      token: await s.admin(),
      body: { salesOpenAt: opensAt.toISOString(), queueMode: 'shuffle-at-open' },
    });
    t.is(patched.status, 200);
    const [newcomer, ...early] = await s.members(9);
    for (const m of early) t.is((await join(s, m, id)).body.drawAt, opensAt.toISOString());
    await eventually(async () => Date.now() > opensAt.getTime() + 100, 10_000, 50);
    // No worker yet: the pre-queue is frozen by this join, and its draw not applied.
    const before = (await join(s, newcomer!, id)).body;
    t.is(before.status, 'waiting');
    t.is(before.position, early.length + 1, 'the 8 members of the roster are ahead');
    await s.startWorker();
    await eventually(async () => (await s.ctx.redis.exists(s.ctx.waitingRoom.keys(id).drawn)) === 1, 20_000);
    const after = (await read(s, newcomer!, id)).body;
    t.is(after.status, 'waiting');
    t.true(after.position <= before.position, `position ${before.position} -> ${after.position}`);
  },
);

/**
 * A writer that read the room's admissions and then stalled (a long GC pause, a slow MySQL) while
 * Redis lost everything and the new room's admissions were logged by another writer: `written`
 * says whether the stalled writer's admissions reached the log before the loss.
 */
async function stalledAcrossLoss(t: ExecutionContext, written: boolean): Promise<void> {
  const redis = await PrivateRedis.create();
  t.teardown(() => redis.destroy());
  const s = await Stack.start({ workers: 0, env: { REDIS_URL: redis.url } });
  t.teardown(() => s.close());
  const room = s.ctx.waitingRoom;
  room.onPending = undefined; // only this test's writers write
  const { performanceId: id } = await s.performance(50, 100_000);
  // An outflow cap the two epochs keep each, not together (the room counts its minute again).
  const gate = { opensAt: null, paused: false, capacity: 100_000, perMinute: 5 };
  const admit = async (from: number) => {
    await room.setGate(id, gate);
    for (let m = from; m < from + 3; m++) await room.join(id, m, 100_000, async () => 'open');
  };
  let reached!: () => void;
  const stalled = new Promise<void>((r) => (reached = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  // The stalling writer: its first read of the room's admissions waits for `release`.
  const stallingRoom = Object.create(room) as typeof room;
  let armed = true;
  stallingRoom.unlogged = async (performanceId, limit) => {
    const out = await room.unlogged(performanceId, limit);
    if (armed && out.length) {
      armed = false;
      reached();
      await released;
    }
    return out;
  };
  const stalling = new Fairness(s.ctx.sequelize, stallingRoom, s.ctx.logger);
  const other = new Fairness(s.ctx.sequelize, room, s.ctx.logger);

  await admit(50_000_001);
  const late = stalling.drain(id);
  await stalled;
  if (written) await other.drain(id);
  const firstGen = await room.generation(id);
  const flusher = new Redis(redis.url);
  t.teardown(() => flusher.disconnect());
  await flusher.flushall();
  await new Promise((r) => setTimeout(r, 5)); // a new generation is a later Redis time
  await admit(50_000_101);
  await other.drain(id);
  const secondGen = await room.generation(id);
  t.not(secondGen, firstGen, 'the loss started a new generation');
  release();
  await late; // no error: what the log holds already is not written again
  // One more admission of the new generation, written after the late ones.
  await room.join(id, 50_000_104, 100_000, async () => 'open');
  await stalling.drain(id);

  const rows = await logRows(s, id);
  const members = rows.map((r) => Number(r['member_id']));
  const old = [50_000_001, 50_000_002, 50_000_003];
  const young = [50_000_101, 50_000_102, 50_000_103];
  t.deepEqual(
    members,
    written ? [...old, ...young, 50_000_104] : [...young, ...old, 50_000_104],
    written ? 'the old epoch once, before the new' : 'the stalled admissions late, after the new epoch, once',
  );
  t.deepEqual(
    rows.map((r) => String(r['room_gen'])),
    written
      ? [firstGen, firstGen, firstGen, secondGen, secondGen, secondGen, secondGen]
      : [secondGen, secondGen, secondGen, firstGen, firstGen, firstGen, secondGen],
  );
  const [head] = await s.ctx.sequelize.query<{ last_gen: string; last_rseq: number }>(
    'SELECT last_gen, last_rseq FROM fairness_draws WHERE performance_id = ?',
    { type: QueryTypes.SELECT, replacements: [id] },
  );
  t.like(
    { gen: String(head!.last_gen), rseq: Number(head!.last_rseq) },
    { gen: secondGen, rseq: 4 },
    'the head names the newest admission, the late ones do not move it back',
  );
  const v = await verifyFairness(s.url, id);
  t.true(v.ok, v.lines.join('\n'));
  t.is(v.entries, 7);
}

test.serial(
  'when a log writer stalls across a Redis loss (FLUSHALL) holding admissions nobody logged, then they are logged once, after the new epoch, and verify holds',
  (t) => stalledAcrossLoss(t, false),
);

test.serial(
  'when a log writer stalls across a Redis loss (FLUSHALL) holding admissions another writer logged, then nothing is written twice and verify holds',
  (t) => stalledAcrossLoss(t, true),
);
