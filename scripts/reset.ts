// npm run reset: empties this deployment's database and its Redis keys together, then migrates the
// empty database (which gets a new deployment id). With NODE_ENV=production it asks for `--yes`.
import { QueryTypes } from 'sequelize';
import { loadConfig, type Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createRedis } from '../shared/redis.js';
import { createSequelize, databaseName, ensureDatabase } from '../shared/db/sequelize.js';
import { migrate } from '../shared/db/migrate.js';

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

const config = loadConfig();
const logger = createLogger(config.logLevel, 'reset');
if (config.nodeEnv === 'production' && !process.argv.includes('--yes')) {
  console.error('NODE_ENV=production: run `npm run reset -- --yes` to empty this deployment for good.');
  process.exit(1);
}
// Redis first: if the database then fails to reset, the old keys are gone anyway and the next start
// claims the prefix afresh; the other way round, a new database could meet the old keys.
const keys = await deleteRedisKeys(config);
const tables = await dropTables(config);
const applied = await migrate(config, logger);
console.log(
  `reset: ${keys} Redis keys under "${config.keyPrefix}:" and ${tables} tables of ${databaseName(config.databaseUrl)} ` +
    `removed; ${applied.length} migrations applied`,
);
