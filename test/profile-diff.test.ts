import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { selfByPackage, type CpuProfile } from '../scripts/lib/cpu-profile.js';
import { ROOT } from './helpers/stack.js';

// A profile's time by package, from the first sample inside a given file: what `npm run
// profile:diff` compares when a note says where a cost went.

/** root → (idle), a handler of ours → a span library's function, and the GC. */
function profile(libUs: number): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 3, 5] },
      { id: 2, callFrame: { functionName: '(idle)', url: '' } },
      {
        id: 3,
        callFrame: { functionName: 'hold', url: 'file:///srv/app/api/routes/holds.ts' },
        children: [4],
      },
      {
        id: 4,
        callFrame: {
          functionName: 'startSpan',
          url: 'file:///srv/app/node_modules/@opentelemetry/sdk-trace/build/src/Tracer.js',
        },
      },
      { id: 5, callFrame: { functionName: '(garbage collector)', url: '' } },
    ],
    // A sample's time is the delta to the next sample.
    samples: [2, 5, 3, 4, 4, 2],
    timeDeltas: [0, 10, 20, 30, libUs, 50],
  };
}

test('when a profile is read from a file’s first call on, then only the samples from then on count, by package', (t) => {
  const from = selfByPackage(profile(40), 'routes/holds');
  t.is(from.busyUs, 30 + 40 + 50);
  t.is(from.idleUs, 0);
  t.deepEqual(
    Object.fromEntries(from.byPackage),
    { 'api/routes/holds.ts': 30, '@opentelemetry/sdk-trace': 90 },
    'the GC sample before the first hold is left out',
  );
  const all = selfByPackage(profile(40));
  t.is(all.idleUs, 10);
  t.is(all.byPackage.get('(garbage collector)'), 20);
  t.is(selfByPackage(profile(40), 'no-such-file').busyUs, 0);
});

test('when two profiles are compared, then the script prints what the second adds by package, with its share', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'profile-diff-'));
  const [base, more] = [path.join(dir, 'base.cpuprofile'), path.join(dir, 'more.cpuprofile')];
  await writeFile(base, JSON.stringify(profile(40_000)));
  await writeFile(more, JSON.stringify(profile(140_000)));
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/profile-diff.ts', base, more, '--from', 'routes/holds'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /added busy time 100 ms/);
  t.regex(r.stdout, /^\s+100 ms\s+100\.0 %\s+@opentelemetry\/sdk-trace$/m);
  t.regex(r.stdout, /^\s+0 ms\s+0\.0 %\s+api\/routes\/holds\.ts$/m);
  const one = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/profile-diff.ts', base], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  t.is(one.status, 1);
  t.regex(one.stderr, /expected two profiles/);
});
