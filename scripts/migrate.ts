import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { migrate } from '../shared/db/migrate.js';
import { parseCli, runCli } from './lib/cli.js';

parseCli({
  command: 'npm run db:migrate --',
  summary:
    'Creates the database of DATABASE_URL if it is missing, then applies the migrations not yet\n' +
    'applied (idempotent).',
  runTime: 'a few seconds',
  options: {},
});

await runCli('migrate', async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'migrate');
  const applied = await migrate(config, logger);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
});
