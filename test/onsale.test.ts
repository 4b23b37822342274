import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BestReplay } from '../shared/testing/best-replay.js';
import { replaySale, type SaleJob } from '../shared/testing/replay.js';
import { ROOT } from './helpers/stack.js';

// The sale simulator run small, as `npm run load -- onsale` runs it: its own API and worker
// processes, then its checks. Timings are not asserted; the invariants and the outputs are.

function load(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/load.ts', ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Summary = {
  ok: boolean;
  invariants: { name: string; ok: boolean; detail: string }[];
  members: Record<string, number>;
  holds: Record<
    'seats' | 'best',
    { succeeded: number; rejected: Record<string, number>; unanswered: number }
  >;
  performance: { contendedSeats: number };
  best?: BestReplay;
  endpoints: Record<string, { count: number; errors: number }>;
  sale: {
    sold: number;
    perSecond: { holds: number; confirms: number; expiries: number; rejections: number }[];
  };
  phases: { name: string }[];
};

test("when a small sale runs end to end, its members following the server's pace, then every invariant holds and the summary and a self-contained report are written", async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'onsale-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const run = await load([
    'onsale',
    '--members',
    '300',
    '--seats',
    '80',
    '--capacity',
    '40',
    '--ramp',
    '4',
    '--hold-ttl',
    '4',
    '--duration',
    '60',
    '--best-share',
    '0.3',
    '--out',
    out,
  ]);
  t.is(run.code, 0, run.stdout.slice(-3000) + run.stderr.slice(-3000));
  t.regex(run.stdout, /all invariants held/);

  const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as Summary;
  t.true(summary.ok);
  t.deepEqual(
    summary.invariants.map((i) => [i.name, i.ok]),
    [
      ['no seat in two live holds, none sold twice', true],
      ['for every contended seat the earliest enqueued request won', true],
      [
        'best available: no request refused while its seats were free, each got the seats a replay picks, no avoidable single gap',
        true,
      ],
      ['every accepted request reached a final status', true],
      ['waiting-room tickets gap-free, admission in ticket order, never above capacity', true],
      ['no position ever rose', true],
      ['sold + held + available = total', true],
      ['every payment captured or voided', true],
      ['fairness verifies (§4.8)', true],
    ],
  );
  t.is(summary.members['joined'], 300);
  // Members follow the server's pace, as the web client does: a long-poll at the front of the line.
  t.true((summary.endpoints['wait']?.count ?? 0) > 0, JSON.stringify(summary.endpoints));
  t.true(summary.performance.contendedSeats > 0, 'members raced for the same seats');
  // A share asked for best available: the summary splits the answers by kind, rejections by reason.
  t.true(
    summary.holds.best.succeeded > 0 && summary.holds.seats.succeeded > 0,
    JSON.stringify(summary.holds),
  );
  t.regex(run.stdout, /holds \(best available\)\s+\d+ granted, \d+ rejected/);
  // ... and replays each at its turn: every one of them, none refused while its seats were free.
  const best = summary.best!;
  const bestAnswers = summary.holds.best;
  // Every grant a member was told of is one the replay found; the others were never seen final.
  t.true(
    best.granted >= bestAnswers.succeeded && best.granted <= bestAnswers.succeeded + bestAnswers.unanswered,
    `${JSON.stringify(best)} ${JSON.stringify(bestAnswers)}`,
  );
  t.true(
    best.granted > 0 && best.refusedWhileAvailable === 0 && best.picksDiffer === 0,
    JSON.stringify(best),
  );
  t.regex(run.stdout, /best available, replayed at each request's turn: \d+ requests, 0 refused while seats/);
  t.true(summary.sale.sold > 0);
  const sum = (k: 'holds' | 'confirms' | 'expiries' | 'rejections') =>
    summary.sale.perSecond.reduce((a, r) => a + r[k], 0);
  t.true(
    sum('holds') > 0 && sum('confirms') > 0 && sum('rejections') > 0 && sum('expiries') > 0,
    `holds ${sum('holds')}, confirms ${sum('confirms')}, rejections ${sum('rejections')}, expiries ${sum('expiries')}`,
  );
  for (const e of ['join', 'seats', 'hold', 'confirm'])
    t.true((summary.endpoints[e]?.count ?? 0) > 0, `${e} was called`);
  t.deepEqual(
    summary.phases.map((p) => p.name),
    ['setup', 'ramp', 'sale', 'drain', 'checks'],
  );

  const html = await readFile(path.join(out, 'report.html'), 'utf8');
  t.true((html.match(/<svg /g) ?? []).length >= 6, 'the charts are inline SVG');
  t.regex(html, /Every invariant held/);
  t.notRegex(
    html,
    /<script|<link|\bsrc=|url\(|@import|https?:\/\/(?!www\.w3\.org)/,
    'nothing loaded from elsewhere',
  );
});

test('when the scenario or an option is wrong, then load exits 2 with a clear message and runs nothing', async (t) => {
  const unknown = await load(['offsale']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown scenario "offsale"/);
  const bad = await load(['onsale', '--members', 'many']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--members must be an integer/);
});

const hold = (
  seq: number,
  memberId: number,
  seatIds: number[],
  status: string,
  holdId: number | null,
): SaleJob => ({
  seq,
  kind: 'hold',
  requestId: seq,
  memberId,
  seatIds,
  status,
  reason: status === 'succeeded' ? null : 'seat-unavailable',
  holdId,
});

test('when a later request took a seat an earlier one asked for, then the sale replay counts it', (t) => {
  const fair = replaySale(
    [
      hold(1, 1, [7], 'succeeded', 100),
      hold(2, 2, [7], 'rejected', null),
      { seq: 3, kind: 'expire', holdId: 100 },
      hold(4, 3, [7], 'succeeded', 101),
    ],
    4,
    new Map(),
  );
  t.is(fair.outOfOrder, 0);
  t.is(fair.contendedSeats, 1);
  t.is(fair.holds.get(100), 'expired');

  const unfair = replaySale(
    [hold(1, 1, [7], 'rejected', null), hold(2, 2, [7], 'succeeded', 100)],
    4,
    new Map(),
  );
  t.is(unfair.outOfOrder, 1);
  const early = replaySale(
    [
      hold(1, 1, [7], 'succeeded', 100),
      hold(2, 2, [7], 'succeeded', 101),
      { seq: 3, kind: 'expire', holdId: 100 },
    ],
    4,
    new Map(),
  );
  t.is(early.outOfOrder, 1, 'a seat granted before the expiry that freed it');
});

test('when best-available requests are replayed, then their holds count like named seats and a wrong limit rejection is caught', (t) => {
  const best = (
    seq: number,
    memberId: number,
    count: number,
    seatIds: number[],
    status: string,
    reason: string | null,
    holdId: number | null,
  ): SaleJob => ({
    seq,
    kind: 'hold',
    requestId: seq,
    memberId,
    seatIds,
    status,
    reason,
    holdId,
    best: { count },
  });
  const fair = replaySale(
    [
      best(1, 1, 2, [7, 8], 'succeeded', null, 100),
      hold(2, 2, [8], 'rejected', null),
      best(3, 2, 4, [], 'rejected', 'no-seats-together', null),
      best(4, 1, 3, [], 'rejected', 'limit-exceeded', null),
    ],
    4,
    new Map(),
  );
  t.is(fair.outOfOrder, 0);
  t.is(fair.contendedSeats, 1, 'the picked seats count as asked for');

  const unfair = replaySale(
    [
      hold(1, 1, [7], 'succeeded', 100),
      best(2, 2, 1, [7], 'succeeded', null, 101),
      best(3, 3, 2, [], 'rejected', 'limit-exceeded', null),
    ],
    4,
    new Map(),
  );
  t.is(unfair.outOfOrder, 2, 'a held seat picked again, and a limit refused within the allowance');
});
