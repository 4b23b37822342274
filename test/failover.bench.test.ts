import test from 'ava';
import { spawn } from 'node:child_process';

// CI's smoke of `npm run bench:failover` (issue 17): one run of each fault (a SIGKILLed holder, a
// frozen one, Redis restarted on its AOF, an API killed between insert and enqueue) at a low rate.
// The bench judges every accepted request in MySQL (lost, doubled, out of order, a stale commit of
// the woken worker) and exits 1 if one is wrong; this checks that, and that every row was measured.
// Its times are the bench's to report, not this test's to assert.

const ROOT = new URL('..', import.meta.url).pathname;

test('when the failover bench runs each fault once, then nothing is lost, doubled, reordered or applied stale, and every fault has its row', async (t) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/bench-failover.ts',
      ...['--runs', '1', '--freeze', '3', '--rate', '50', '--seats', '600', '--members', '100'],
    ],
    { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.log(
    out
      .split('\n')
      .filter((l) => /^(kill|stop|redis|api) 1:/.test(l))
      .join('\n'),
  );
  t.is(code, 0, out.slice(-3000));
  t.regex(out, /failover invariants: OK/);
  const rows = [
    'holder SIGKILLed (resume)',
    'holder SIGSTOPped 3 s (another commits)',
    "killed holder's after-commit work (redone)",
    'Redis restarted, AOF (resume after PONG)',
    'API SIGKILLed between insert and enqueue (final)',
  ];
  for (const name of rows) {
    const row = out.split('\n').find((l) => l.startsWith(`| ${name}`));
    t.truthy(row, `the table has a row for ${name}`);
    const cells = row!.split('|').map((c) => c.trim());
    t.is(cells[2], '1', `${name}: one run`);
    t.regex(cells[3]!, /^\d+\.\d\d s$/, `${name}: a resume time was measured`);
    t.deepEqual(cells.slice(8, 11), ['0', '0', '0'], `${name}: none lost, doubled or out of order`);
  }
  t.regex(out, /staleCommitsAfterWake 0/);
  t.regex(out, /retryFindsIt 1/);
});
