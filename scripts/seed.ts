// npm run seed -- --seats N --members M [--admission-capacity C]
// The performance is a stadium layout: blocks of rows of 30 seats (see stadiumBody).
// The last stdout line is JSON: {"performanceId":1,"seatIds":[...],"members":[{"id":1,"email":"..."}],"password":"..."}
import { parseCli, runCli } from './lib/cli.js';
import { loadConfig } from '../shared/config.js';
import { createContext } from '../shared/context.js';
import { migrate } from '../shared/db/migrate.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';

function count(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(`--${name} must be a whole number from 0 to ${max}`);
    process.exit(2);
  }
  return n;
}

const { values } = parseCli({
  command: 'npm run seed --',
  summary:
    'Creates one performance (a stadium layout) and members sharing one password, migrating first.\n' +
    'The last stdout line is JSON: {"performanceId","seatIds","members":[{"id","email"}],"password"}.',
  runTime: 'a few seconds; about 1 minute for 100000 members',
  options: {
    seats: {
      type: 'string',
      default: '100',
      value: 'N',
      description: 'seats of the performance (1..100000)',
    },
    members: { type: 'string', default: '10', value: 'M', description: 'members to create' },
    'admission-capacity': {
      type: 'string',
      value: 'C',
      description: 'members admitted at once (default ADMISSION_CAPACITY)',
    },
    name: {
      type: 'string',
      value: 'TEXT',
      description: 'name of the performance (default: Seeded concert <time>)',
    },
  },
});
const seats = count('seats', values.seats, 100, 100_000);
const members = count('members', values.members, 10, 1_000_000);
const capacity = values['admission-capacity']
  ? count('admission-capacity', values['admission-capacity'], 0, 1_000_000)
  : undefined;
if (seats < 1) {
  console.error('--seats must be at least 1');
  process.exit(2);
}

await runCli('seed', async () => {
  const config = loadConfig();
  await migrate(config);
  const ctx = createContext(config, 'seed');
  try {
    const password = 'password-1234';
    const perf = await seedPerformance(ctx.catalogue, seats, {
      name: values.name ?? `Seeded concert ${new Date().toISOString()}`,
      layout: 'stadium',
      ...(capacity ? { admissionCapacity: capacity } : {}),
    });
    const seeded = await seedMembers(members, password);
    console.log(JSON.stringify({ ...perf, members: seeded, password }));
  } finally {
    await ctx.close();
  }
});
