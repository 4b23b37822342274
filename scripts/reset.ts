// npm run reset: empties this deployment's database and its Redis keys together, then migrates the
// empty database (which gets a new deployment id). Refuses while a process of the deployment is
// alive (its heartbeat key), unless --force. With NODE_ENV=production it asks for `--yes`.
import { QueryTypes } from 'sequelize';
import { loadConfig, type Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { createSequelize, databaseName, ensureDatabase } from '../shared/db/sequelize.js';
import { migrate } from '../shared/db/migrate.js';
import { liveProcesses, type LiveProcess } from '../shared/deployment.js';
import { parseCli, runCli } from './lib/cli.js';

const { values } = parseCli({
  command: 'npm run reset --',
  summary:
    "Empties this deployment's database (DATABASE_URL) and its Redis keys (REDIS_URL, KEY_PREFIX)\n" +
    'together, then migrates the empty database. Refuses while an API or worker process of the\n' +
    'deployment is alive.',
  runTime: 'a few seconds',
  options: {
    force: { type: 'boolean', description: 'reset even beside running processes (they will fail)' },
    yes: { type: 'boolean', description: 'confirm a reset with NODE_ENV=production' },
  },
});

async function seenProcesses(config: Config): Promise<LiveProcess[]> {
  const redis = createRedis(config, 'command', 'reset-check');
  try {
    if ('nodes' in redis && redis.status !== 'ready')
      await new Promise((resolve, reject) => {
        redis.once('ready', resolve);
        setTimeout(() => reject(new Error('Redis Cluster not ready')), 10_000).unref();
      });
    return await liveProcesses(redis, config.keyPrefix);
  } finally {
    redis.disconnect();
  }
}

function describe(p: LiveProcess): string {
  return `${p.kind} pid ${p.pid} on ${p.host} (since ${p.startedAt})`;
}

async function deleteRedisKeys(config: Config): Promise<number> {
  const redis = createRedis(config, 'blocking', 'reset');
  try {
    if ('nodes' in redis && redis.status !== 'ready')
      await new Promise((resolve, reject) => {
        redis.once('ready', resolve);
        setTimeout(() => reject(new Error('Redis Cluster not ready')), 10_000).unref();
      });
    let deleted = 0;
    for (const node of 'nodes' in redis ? redis.nodes('master') : [redis]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${config.keyPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) deleted += await node.del(k);
      } while (cursor !== '0');
    }
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** Drops every table (the service's user owns them; no server-wide privilege is needed). */
async function dropTables(config: Config): Promise<number> {
  await ensureDatabase(config).catch(() => undefined);
  const sequelize = createSequelize(config, undefined, { max: 1, min: 0 });
  try {
    const tables = await sequelize.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`,
      { type: QueryTypes.SELECT },
    );
    await sequelize.query('SET FOREIGN_KEY_CHECKS = 0');
    for (const { name } of tables)
      await sequelize.query(`DROP TABLE IF EXISTS \`${name.replace(/`/g, '')}\``);
    await sequelize.query('SET FOREIGN_KEY_CHECKS = 1');
    return tables.length;
  } finally {
    await sequelize.close();
  }
}

await runCli('reset', async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'reset');
  if (config.nodeEnv === 'production' && !values.yes) {
    console.error(
      'reset: NODE_ENV=production: run `npm run reset -- --yes` to empty this deployment for good.',
    );
    return 1;
  }
  const alive = await seenProcesses(config);
  if (alive.length > 0 && !values.force) {
    console.error(
      `reset: refused: ${alive.length} process${alive.length > 1 ? 'es' : ''} of this deployment ` +
        `(KEY_PREFIX "${config.keyPrefix}") ${alive.length > 1 ? 'are' : 'is'} alive:\n` +
        alive.map((p) => `  ${describe(p)}\n`).join('') +
        'Stop them first, or run `npm run reset -- --force`.',
    );
    return 1;
  }
  if (alive.length > 0)
    console.error(`reset: --force: resetting beside ${alive.map(describe).join(', ')}; restart them after`);
  // Redis first: if the database then fails to reset, the old keys are gone anyway and the next
  // start claims the prefix afresh; the other way round, a new database could meet the old keys.
  const keys = await deleteRedisKeys(config);
  const tables = await dropTables(config);
  const applied = await migrate(config, logger);
  console.log(
    `reset: ${keys} Redis keys under "${config.keyPrefix}:" and ${tables} tables of ${databaseName(config.databaseUrl)} ` +
      `removed; ${applied.length} migrations applied`,
  );
});
