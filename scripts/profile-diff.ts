// npm run profile:diff -- BASE.cpuprofile PROFILE.cpuprofile [--from FILE] [--top N]
//
// Where a run spent its added CPU time: self time by package in two V8 CPU profiles of the same
// process kind (e.g. `PROFILE_API=/tmp/p npm run bench -- --only tracing --tracing-rounds 1` writes
// one per mode, in the order the modes run), each from the first sample inside FILE, and their
// difference sorted by size with its share of the whole difference.
import { readFile } from 'node:fs/promises';
import { parseCli, runCli } from './lib/cli.js';
import { selfByPackage, type CpuProfile } from './lib/cpu-profile.js';

const { values, positionals } = parseCli({
  command: 'npm run profile:diff --',
  summary:
    'Self CPU time by package in two V8 CPU profiles (BASE.cpuprofile PROFILE.cpuprofile), and what the second adds.',
  runTime: 'a second or two per profile',
  positionals: 'BASE.cpuprofile PROFILE.cpuprofile',
  options: {
    from: {
      type: 'string',
      default: '',
      value: 'FILE',
      description:
        'count from the first sample inside a function of a source file whose path contains FILE (e.g. request-intake: the first hold)',
    },
    top: { type: 'string', default: '25', value: 'N', description: 'packages listed' },
  },
});

await runCli('profile:diff', async () => {
  if (positionals.length !== 2) throw new Error('expected two profiles: BASE.cpuprofile PROFILE.cpuprofile');
  const [base, other] = await Promise.all(
    positionals.map(async (f) =>
      selfByPackage(JSON.parse(await readFile(f, 'utf8')) as CpuProfile, values.from),
    ),
  );
  const ms = (us: number) => (us / 1000).toFixed(0);
  for (const [name, r] of [
    ['base', base!],
    ['profile', other!],
  ] as const)
    console.log(`${name.padEnd(8)} busy ${ms(r.busyUs)} ms, idle ${ms(r.idleUs)} ms`);
  const added = other!.busyUs - base!.busyUs;
  console.log(`added busy time ${ms(added)} ms; by package (profile − base, share of the added time):`);
  const names = new Set([...base!.byPackage.keys(), ...other!.byPackage.keys()]);
  const rows = [...names]
    .map((n) => [n, (other!.byPackage.get(n) ?? 0) - (base!.byPackage.get(n) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(values.top));
  for (const [n, d] of rows)
    console.log(`${ms(d).padStart(8)} ms ${((100 * d) / added).toFixed(1).padStart(6)} %  ${n}`);
});
