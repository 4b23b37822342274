import { Sequelize } from 'sequelize';
import { format, type Connection } from 'mysql2';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { initModels } from './models/index.js';

export function databaseName(databaseUrl: string): string {
  return new URL(databaseUrl).pathname.replace(/^\//, '');
}

/**
 * mysql2 formats every statement, scanning all of it for placeholders even when there are no values
 * to put in, and Sequelize never passes any (it puts its replacements in itself): a statement without
 * values is sent as it is. The admission log's inserts are long (a few hundred bytes per entry).
 */
type FormatArgs = Parameters<typeof format>;
function queryFormat(sql: string, values: FormatArgs[1], timezone?: FormatArgs[3]): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return format(sql, values, false, timezone);
}

function newSequelize(config: Config, logger?: Logger, pool = { max: 10, min: 0 }): Sequelize {
  return new Sequelize(config.databaseUrl, {
    dialect: 'mysql',
    logging: logger ? (sql) => logger.trace({ sql }, 'sql') : false,
    timezone: '+00:00',
    // acquire bounds the wait for a pooled connection under load; a refused connect fails at once.
    pool: { ...pool, acquire: 5_000, idle: 10_000 },
    // No multipleStatements: every statement is its own round trip, its values replacements.
    dialectOptions: { decimalNumbers: true, connectTimeout: 2000, queryFormat },
    define: { underscored: true },
    hooks: {
      // READ COMMITTED for every connection: a batch's locking reads and updates take no gap locks,
      // so the API's inserts into hold_requests never deadlock with (nor queue behind) a batch that
      // holds next-key locks in an index they insert into (issue 17: a 50-74 s commit stall and
      // 503s). The two reads that need one snapshot across statements ask for REPEATABLE READ.
      afterConnect: (connection) =>
        new Promise<void>((resolve, reject) =>
          (connection as Connection).query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (err) =>
            err ? reject(err) : resolve(),
          ),
        ),
    },
  });
}

// Sequelize models are module-level classes bound to one instance, so a process shares one
// instance (per database) between its contexts, an API and workers in `npm start` or in tests.
let shared: { url: string; sequelize: Sequelize; refs: number } | undefined;

/** The process's Sequelize with the models bound to it; release it once per call. */
export function openSequelize(
  config: Config,
  logger?: Logger,
): { sequelize: Sequelize; release: () => Promise<void> } {
  if (shared && shared.url !== config.databaseUrl)
    throw new Error(`this process already uses ${shared.url}; one database per process`);
  if (!shared) {
    const sequelize = newSequelize(config, logger, { max: 20, min: 0 });
    initModels(sequelize);
    shared = { url: config.databaseUrl, sequelize, refs: 0 };
  }
  const entry = shared;
  entry.refs++;
  let released = false;
  return {
    sequelize: entry.sequelize,
    async release() {
      if (released) return;
      released = true;
      if (--entry.refs === 0) {
        if (shared === entry) shared = undefined;
        await entry.sequelize.close();
      }
    },
  };
}

/** A standalone connection without models (migrations). */
export function createSequelize(config: Config, logger?: Logger, pool = { max: 10, min: 0 }): Sequelize {
  return newSequelize(config, logger, pool);
}

/** Creates the database named in the URL if it does not exist. */
export async function ensureDatabase(config: Config): Promise<void> {
  const url = new URL(config.databaseUrl);
  const name = databaseName(config.databaseUrl);
  url.pathname = '/';
  const admin = new Sequelize(url.toString().replace(/\/$/, ''), {
    dialect: 'mysql',
    logging: false,
    dialectOptions: { connectTimeout: 2000 },
  });
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } catch (err) {
    // A user of one database (not root, as in production) may not create databases: its database
    // exists already, and connecting to it says so if not.
    const code = (err as { parent?: { code?: string } }).parent?.code;
    if (code !== 'ER_DBACCESS_DENIED_ERROR' && code !== 'ER_SPECIFIC_ACCESS_DENIED_ERROR') throw err;
  } finally {
    await admin.close();
  }
}
