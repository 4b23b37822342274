// npm run load:waiting-room:headline -- [--poll-steps 8000,11000,14000,17000] [--pace-steps 100000,150000,200000]
//
// The waiting room's headline in one run: the largest line held with joins and status reads at
// p99 < 200 ms, 0 errors and every invariant, once with every member polling every 5 s (the
// design before the pace, `--poll 5`) and once following the pace and the push, and the ratio of
// the two. Each step is one `npm run load:waiting-room` (its own deployment, seeded fresh); a
// ladder stops at its first step that misses. Both ladders use the same arrival, capacity,
// shopping time and duration.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const HELP = `npm run load:waiting-room:headline -- [options]

Runs npm run load:waiting-room for each step of two ladders (fixed 5 s polling, then the pace) and
prints the largest line each held at p99 < 200 ms (joins and status reads, 0 errors, invariants OK)
and their ratio.

  --poll-steps LIST   members per step with --poll 5 [8000,11000,14000,17000]
  --pace-steps LIST   members per step following the pace [100000,150000,200000]
  --arrival S         joins spread over S seconds, both ladders [50]
  --capacity C        admission capacity [100]
  --shop S            an admitted member shops S seconds [5]
  --duration S        each run's length [90]
  --help              this text

Typical run time: about 2.5 minutes per step (seeding, the run, the drain): 20-30 minutes at the
defaults.`;

function usage(message: string): never {
  console.error(`load:waiting-room:headline: ${message}\n\n${HELP}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    strict: true,
    options: {
      'poll-steps': { type: 'string', default: '8000,11000,14000,17000' },
      'pace-steps': { type: 'string', default: '100000,150000,200000' },
      arrival: { type: 'string', default: '50' },
      capacity: { type: 'string', default: '100' },
      shop: { type: 'string', default: '5' },
      duration: { type: 'string', default: '90' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  usage((err as Error).message);
}
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const steps = (s: string) => {
  const list = s.split(',').map(Number);
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1)) usage(`bad step list '${s}'`);
  return list;
};

type Result = {
  ok: boolean;
  members: number;
  servedPerS: number;
  steady: { servedPerS: number };
  latencyMs: Record<string, { n: number; p50: number | null; p99: number | null }>;
  errors: number;
  noticeMs: { p99: number | null };
  requestsPerMemberMinute: number;
  invariantsOk: boolean;
};

function runLoad(args: string[]): Promise<Result | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/load-waiting-room.ts', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      process.stdout.write(c); // each step's whole report, then the table at the end
    });
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve(line ? (JSON.parse(line.slice(7)) as Result) : undefined);
    });
  });
}

const held = (r: Result | undefined) =>
  !!r &&
  r.invariantsOk &&
  r.errors === 0 &&
  (r.latencyMs['join']?.p99 ?? Infinity) < 200 &&
  (r.latencyMs['status']?.n ? (r.latencyMs['status'].p99 ?? Infinity) < 200 : true);

const common = [
  '--arrival',
  values.arrival,
  '--capacity',
  values.capacity,
  '--shop',
  values.shop,
  '--duration',
  values.duration,
];
const rows: string[] = [];
async function ladder(name: string, mode: string[], list: number[]): Promise<number> {
  let best = 0;
  for (const n of list) {
    console.log(`== ${name}: ${n} members`);
    const r = await runLoad(['--members', String(n), ...mode, ...common]);
    const ok = held(r);
    const q = (k: string) => `${r?.latencyMs[k]?.p99 ?? '-'}`;
    rows.push(
      `| ${name.padEnd(14)} | ${String(n).padStart(7)} | ${q('join').padStart(9)} | ${q('status').padStart(11)} | ${String(r?.steady.servedPerS ?? '-').padStart(12)} | ${String(r?.requestsPerMemberMinute ?? '-').padStart(8)} | ${String(r?.noticeMs.p99 ?? '-').padStart(10)} | ${String(r?.errors ?? '-').padStart(6)} | ${r?.invariantsOk ? 'OK' : 'NO'} | ${ok ? 'held' : 'missed'} |`,
    );
    console.log(rows[rows.length - 1]);
    if (!ok) break;
    best = n;
  }
  return best;
}

const poll = await ladder('fixed 5 s poll', ['--poll', '5'], steps(values['poll-steps']));
const pace = await ladder('pace + push', [], steps(values['pace-steps']));
console.log(`
waiting room headline, ${new Date().toISOString()} (arrival ${values.arrival} s, capacity ${values.capacity}, shop ${values.shop} s, duration ${values.duration} s; one API, one worker)
| mode           | members | join p99  | status p99  | steady req/s | req/m/m  | notice p99 | errors | inv | p99 < 200 ms |
| -------------- | ------- | --------- | ----------- | ------------ | -------- | ---------- | ------ | --- | ------------ |
${rows.join('\n')}
largest line held: fixed 5 s polling ${poll || 'none of the steps'}, pace ${pace || 'none of the steps'}${
  poll && pace ? `; ratio ${(pace / poll).toFixed(1)}x` : ''
}${pace && pace === steps(values['pace-steps']).at(-1) ? ' (the pace held every step: a lower bound)' : ''}`);
