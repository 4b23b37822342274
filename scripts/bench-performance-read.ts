// npm run bench:performance-read [-- --seats 100000 --runs 20 --concurrency 50]
// GET /api/performances/:id on a large venue: the counts from the seat tally (ours, over HTTP)
// against the aggregation the route ran on every call before (the baseline, same run, the same
// queries run directly, without HTTP). Prints one table with the ratios. Starts its own API
// in-process (own Redis key prefix) on DATABASE_URL; the performance it creates stays.
import { randomBytes } from 'node:crypto';
import { parseCli } from './lib/cli.js';
import { loadConfig, parseConfig } from '../shared/config.js';
import { migrate } from '../shared/db/migrate.js';
import { startApiProcess } from '../api/main.js';
import { seedPerformance } from '../shared/testing/seed.js';
import { Performance, SeatGrade, Zone } from '../shared/db/models/index.js';
import { SeatStockRepository } from '../shared/db/repositories/seat-stock.repository.js';

const { values } = parseCli({
  command: 'npm run bench:performance-read --',
  summary:
    'GET /api/performances/:id on a large venue: counts from the seat tally against the per-call\n' +
    'aggregation over the seats (the baseline, same run). The performance it creates stays.',
  runTime: 'about 1 minute with the defaults (most of it creating the venue)',
  options: {
    seats: { type: 'string', default: '100000', value: 'N', description: 'seats of the venue (1..100000)' },
    runs: { type: 'string', default: '20', value: 'N', description: 'sequential reads of each kind' },
    concurrency: { type: 'string', default: '50', value: 'C', description: 'reads at once, in the burst' },
  },
});
const seats = Number(values.seats);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
for (const [name, v, max] of [
  ['seats', seats, 100_000],
  ['runs', runs, 10_000],
  ['concurrency', concurrency, 1000],
] as const)
  if (!Number.isInteger(v) || v < 1 || v > max) {
    console.error(`--${name} must be an integer from 1 to ${max}`);
    process.exit(2);
  }

await migrate(loadConfig());
const config = parseConfig({
  ...process.env,
  PORT: '0',
  LOG_LEVEL: 'error',
  RATE_LIMIT_IP_PER_SECOND: '0',
  KEY_PREFIX: `b${randomBytes(4).toString('hex')}`,
});
const api = await startApiProcess(config);

/** The route's work before the tally: the performance, its grades and zones, two aggregations. */
async function baseline(id: number): Promise<number> {
  const repo = new SeatStockRepository(Performance.sequelize!);
  const [p, , , stocks] = await Promise.all([
    Performance.findByPk(id),
    SeatGrade.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
    Zone.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
    repo.counts([id]),
    repo.byZone(id),
  ]);
  if (!p) throw new Error('no performance');
  return stocks.get(id)!.available;
}

async function ours(id: number): Promise<number> {
  const res = await fetch(`${api.url}/api/performances/${id}`);
  if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
  return ((await res.json()) as { availableCount: number }).availableCount;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

try {
  const started = performance.now();
  const { performanceId } = await seedPerformance(api.ctx.catalogue, seats, {
    name: `bench read ${config.keyPrefix}`,
    layout: 'stadium',
  });
  console.error(`venue of ${seats} seats created in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if ((await baseline(performanceId)) !== (await ours(performanceId)))
    throw new Error('the two disagree on the available count');

  const rows: [string, number, number, string][] = [];
  const seq = async (f: (id: number) => Promise<number>) => {
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(await timed(() => f(performanceId)));
    return median(xs);
  };
  // A read that fails (the pool's 5 s acquire timeout, a 503) counts, and is named in the table.
  const burst = async (f: (id: number) => Promise<number>) => {
    let failed = 0;
    const wall = await timed(() =>
      Promise.all(
        Array.from({ length: concurrency }, () =>
          f(performanceId).catch(() => {
            failed++;
          }),
        ),
      ),
    );
    return { wall, failed };
  };
  // Alternated, so that a load spike on a shared machine falls on both.
  const b1 = await seq(baseline);
  const o1 = await seq(ours);
  rows.push([`one read, median of ${runs}`, o1, b1, '']);
  // Ours first: the baseline's burst leaves MySQL busy with aggregations after its reads give up.
  const o2 = await burst(ours);
  const b2 = await burst(baseline);
  rows.push([
    `${concurrency} reads at once, wall time`,
    o2.wall,
    b2.wall,
    `failed: ours ${o2.failed}, baseline ${b2.failed}`,
  ]);
  const countings = api.ctx.catalogue.tallies.countings;

  console.log(
    `GET /api/performances/:id, ${seats} seats (ours over HTTP; baseline: the same queries, direct)`,
  );
  console.log('| measure | ours | baseline | ratio | note |');
  console.log('|---|---|---|---|---|');
  for (const [name, o, b, note] of rows)
    console.log(`| ${name} | ${ms(o)} | ${ms(b)} | ${(b / o).toFixed(1)}x | ${note} |`);
  console.log(`seat countings by the API process: ${countings} (the first read)`);
} finally {
  await api.close();
}
