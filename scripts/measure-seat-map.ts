// npm run measure:seat-map [-- --seats 60000 --runs 3]
// A stadium on sale: the time to create it in one call (rows) against the same seats listed one by
// one (the baseline, same run), and the bytes a member downloads to see its map: the performance
// plus one zone, and the whole map, gzip against uncompressed. Starts its own API process in-process
// (own Redis key prefix) on DATABASE_URL; the performances it creates stay.
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseCli } from './lib/cli.js';
import { loadConfig, parseConfig } from '../shared/config.js';
import { migrate } from '../shared/db/migrate.js';
import { startApiProcess } from '../api/main.js';
import { signAccessToken } from '../shared/auth/tokens.js';
import { Member } from '../shared/db/models/index.js';
import { seedMembers, stadiumBody } from '../shared/testing/seed.js';
import type { CreatePerformance } from '../shared/catalogue/catalogue.service.js';

const { values } = parseCli({
  command: 'npm run measure:seat-map --',
  summary:
    'A stadium on sale: time to create it in one call (rows) against the seats listed one by one, and\n' +
    'the bytes a member downloads to see its map (gzip against uncompressed). The performances stay.',
  runTime: 'about 1 minute with the defaults',
  options: {
    seats: { type: 'string', default: '60000', value: 'N', description: 'seats of the stadium (1..100000)' },
    runs: { type: 'string', default: '3', value: 'N', description: 'repetitions of each measure' },
  },
});
const seats = Number(values.seats ?? 60_000);
const runs = Number(values.runs ?? 3);
if (!Number.isInteger(seats) || seats < 1 || seats > 100_000 || !Number.isInteger(runs) || runs < 1) {
  console.error('--seats 1..100000, --runs >= 1');
  process.exit(2);
}

const base = loadConfig();
await migrate(base);
const config = parseConfig({
  ...process.env,
  PORT: '0',
  LOG_LEVEL: 'error',
  KEY_PREFIX: `m${randomBytes(4).toString('hex')}`,
});
const api = await startApiProcess(config);

function get(path: string, token: string, gzip: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, {
      headers: { authorization: `Bearer ${token}`, ...(gzip ? { 'accept-encoding': 'gzip' } : {}) },
    });
    req.on('response', (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${path}: ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function create(
  body: CreatePerformance,
  token: string,
): Promise<{ id: number; ms: number; bytes: number }> {
  const json = JSON.stringify(body);
  const started = performance.now();
  const res = await fetch(`${api.url}/api/performances`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: json,
  });
  const ms = performance.now() - started;
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return { id: ((await res.json()) as { id: number }).id, ms, bytes: json.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const admin = await Member.findOne({ where: { email: config.adminEmail } });
  const adminToken = await signAccessToken(config.jwtSecret, { memberId: admin!.id, role: 'ADMIN' }, 3600);
  const rows = stadiumBody(seats, { name: 'Measured stadium' });
  // The baseline: the same seats, each listed by code (what a client without rows would send).
  const single: CreatePerformance = {
    ...rows,
    name: 'Measured stadium (single seats)',
    zones: rows.zones.map((z) => ({
      name: z.name,
      seats: (z.rows ?? []).flatMap((r) =>
        Array.from({ length: r.seats }, (_, i) => ({ code: `${r.name}-${i + 1}`, grade: r.grade })),
      ),
    })),
  };
  const rowRuns: number[] = [];
  const singleRuns: number[] = [];
  let last = { id: 0, ms: 0, bytes: 0 };
  let singleBytes = 0;
  for (let i = 0; i < runs; i++) {
    last = await create(rows, adminToken);
    rowRuns.push(last.ms);
    const s = await create(single, adminToken);
    singleRuns.push(s.ms);
    singleBytes = s.bytes;
  }
  console.log(`create ${seats} seats, median of ${runs}:`);
  console.log(`  rows:         ${Math.round(median(rowRuns))} ms (${last.bytes} bytes of JSON)`);
  console.log(
    `  single seats: ${Math.round(median(singleRuns))} ms (${singleBytes} bytes of JSON)  [baseline]`,
  );
  console.log(
    `  ratio rows/baseline: time ${(median(rowRuns) / median(singleRuns)).toFixed(2)}, body ${(last.bytes / singleBytes).toFixed(3)}`,
  );

  const [member] = await seedMembers(1, 'password-1234');
  const token = await signAccessToken(config.jwtSecret, { memberId: member!.id, role: 'USER' }, 3600);
  const joined = await fetch(`${api.url}/api/performances/${last.id}/waiting`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  if (((await joined.json()) as { status: string }).status !== 'admitted') throw new Error('not admitted');
  const perf = (await (await fetch(`${api.url}/api/performances/${last.id}`)).json()) as {
    zones: { id: number }[];
  };
  const zoneId = perf.zones[Math.floor(perf.zones.length / 2)]!.id;
  const overview = await get(`/api/performances/${last.id}`, token, true);
  const zoneGzip = await get(`/api/performances/${last.id}/seats?zone=${zoneId}`, token, true);
  const zoneRaw = await get(`/api/performances/${last.id}/seats?zone=${zoneId}`, token, false);
  const fullGzip = await get(`/api/performances/${last.id}/seats`, token, true);
  const fullRaw = await get(`/api/performances/${last.id}/seats`, token, false);
  console.log(`bytes a member downloads to see the map (${perf.zones.length} zones):`);
  console.log(
    `  performance + one zone, gzip: ${overview + zoneGzip} (${overview} + ${zoneGzip}; zone uncompressed ${zoneRaw})`,
  );
  console.log(`  whole map, gzip:              ${fullGzip}`);
  console.log(`  whole map, uncompressed:      ${fullRaw}  [baseline]`);
  console.log(
    `  ratio one zone/baseline: ${((overview + zoneGzip) / fullRaw).toFixed(4)}, whole map gzip/baseline: ${(fullGzip / fullRaw).toFixed(3)}`,
  );
} finally {
  await api.close();
}
