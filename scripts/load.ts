// npm run load -- onsale [--members N] [--seats S] [--hot-share F] [--best-share B] [--poll pace|P] [--duration D]
//                        [--apis A] [--workers W] [--out DIR] [--url URL] [--ramp R]
//                        [--capacity C] [--hold-ttl T] [--decline-rate X]
//                        [--queue-mode fifo|shuffle-at-open] [--pre-queue F]
//
// A whole on-sale, from the first arrival to sold-out: a stadium-like performance, N members who
// arrive over R seconds, join the line, follow their position, get admitted, read their zone of
// the seat map and race for seats (a share F of them for the same front-row seats; a share B asks
// for best available instead, and the summary splits hold outcomes by kind), then confirm
// (the simulated gateway declines a share X), release, or let their hold expire (T seconds). Live
// progress on the terminal; then a summary on stdout, DIR/summary.json and a self-contained
// DIR/report.html. Exits 1 if an invariant (contract §4) breaks, 2 on bad arguments. With
// --queue-mode shuffle-at-open the sale opens once a share F of the members has arrived: they form
// the pre-queue, drawn at opening; the summary gives Kendall's tau within it (≈ 0) and after it (1).
//
// Without --url it starts its own service (A API and W worker processes) on the bench database and
// a fresh Redis key prefix. With --url it targets a running service, reaching its MySQL and Redis
// through DATABASE_URL, REDIS_URL and KEY_PREFIX and minting tokens with its JWT_SECRET.
import { parseCli, usageError, type CliSpec, type CliOption } from './lib/cli.js';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { runOnsale, type OnsaleOptions } from './onsale/simulate.js';
import { stopAll } from './lib/processes.js';

const spec = {
  command: 'npm run load --',
  positionals: 'onsale',
  summary:
    'Simulates a whole sale, first arrival to sold-out, against a service it starts (or --url): live\n' +
    'progress, then DIR/summary.json and DIR/report.html. Exits 1 if an invariant breaks.',
  runTime: 'about --duration (300 s by default) plus a minute to start and report',
  options: {
    members: { type: 'string', default: '2000', value: 'N', description: 'members who arrive' },
    seats: { type: 'string', default: '500', value: 'S', description: 'seats of the performance' },
    'hot-share': {
      type: 'string',
      default: '0.2',
      value: 'F',
      description: 'share racing for the front rows',
    },
    'best-share': {
      type: 'string',
      default: '0',
      value: 'F',
      description: 'share asking for best available',
    },
    poll: {
      type: 'string',
      default: 'pace',
      value: 'P',
      description:
        'pace: follow nextPollSeconds and hold a long-poll when it is 0, as the web client does; a number: the old fixed cadence, a plain status GET every P s',
    },
    duration: { type: 'string', default: '300', value: 'D', description: 'longest run, seconds' },
    apis: { type: 'string', default: '1', value: 'A', description: 'API processes to start' },
    workers: { type: 'string', default: '1', value: 'W', description: 'worker processes to start' },
    out: { type: 'string', default: 'onsale-report', value: 'DIR', description: 'report directory' },
    url: { type: 'string', value: 'URL', description: 'target a running service instead' },
    ramp: { type: 'string', value: 'R', description: 'arrival period, seconds (default from members)' },
    capacity: { type: 'string', default: '100', value: 'C', description: 'admission capacity' },
    'hold-ttl': { type: 'string', default: '10', value: 'T', description: 'hold TTL, seconds' },
    'decline-rate': { type: 'string', default: '0.1', value: 'X', description: 'share of payments declined' },
    'queue-mode': {
      type: 'string',
      default: 'fifo',
      value: 'M',
      description: 'fifo | shuffle-at-open (a pre-queue, drawn at opening)',
    },
    'pre-queue': {
      type: 'string',
      default: '0.5',
      value: 'F',
      description: 'shuffle-at-open: share of the arrivals before the opening',
    },
  },
} satisfies CliSpec<Record<string, CliOption>>;

function fail(message: string): never {
  usageError(spec, message);
}

const parsed = parseCli(spec);
const { values: v, positionals } = parsed;
if (positionals[0] !== 'onsale') fail(`unknown scenario "${positionals[0] ?? ''}" (known: onsale)`);

const num = (name: string, raw: string, min: number, max: number, int = true): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n)))
    fail(`--${name} must be ${int ? 'an integer' : 'a number'} from ${min} to ${max}, not "${raw}"`);
  return n;
};
if (v['queue-mode'] !== 'fifo' && v['queue-mode'] !== 'shuffle-at-open')
  fail(`--queue-mode must be fifo or shuffle-at-open, not "${v['queue-mode']}"`);
const duration = num('duration', v.duration, 5, 3600);
const members = num('members', v.members, 1, 1_000_000);
const options: OnsaleOptions = {
  members,
  seats: num('seats', v.seats, 1, 50_000),
  hotShare: num('hot-share', v['hot-share'], 0, 1, false),
  bestShare: num('best-share', v['best-share'], 0, 1, false),
  pollSeconds: v.poll === 'pace' ? 0 : num('poll', v.poll, 0.1, 60, false),
  durationSeconds: duration,
  rampSeconds: v.ramp
    ? num('ramp', v.ramp, 0, 3600, false)
    : Math.min(duration / 4, Math.max(5, members / 500)),
  apis: num('apis', v.apis, 1, 16),
  workers: num('workers', v.workers, 1, 16),
  out: v.out,
  ...(v.url ? { url: v.url } : {}),
  capacity: num('capacity', v.capacity, 1, 1_000_000),
  holdTtlSeconds: num('hold-ttl', v['hold-ttl'], 1, 3600),
  declineRate: num('decline-rate', v['decline-rate'], 0, 1, false),
  queueMode: v['queue-mode'],
  preQueueShare: v['queue-mode'] === 'shuffle-at-open' ? num('pre-queue', v['pre-queue'], 0, 1, false) : 0,
  command: `npm run load -- ${process.argv.slice(2).join(' ')}`,
};

const children: ChildProcess[] = [];
// Ctrl-C stops the service it started too.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`\nload: ${signal}, stopping`);
    void stopAll(children).finally(() => process.exit(130));
  });
const ok = await runOnsale(options, children);
// Leave time for stdout to flush when piped.
await sleep(50);
process.exit(ok ? 0 : 1);
