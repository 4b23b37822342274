import { Sequelize } from 'sequelize';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { initModels } from './models/index.js';

export function databaseName(databaseUrl: string): string {
  return new URL(databaseUrl).pathname.replace(/^\//, '');
}

export function createSequelize(config: Config, logger?: Logger, pool = { max: 10, min: 0 }): Sequelize {
  const sequelize = new Sequelize(config.databaseUrl, {
    dialect: 'mysql',
    logging: logger ? (sql) => logger.trace({ sql }, 'sql') : false,
    timezone: '+00:00',
    pool: { ...pool, acquire: 10_000, idle: 10_000 },
    dialectOptions: { decimalNumbers: true, connectTimeout: 5000 },
    define: { underscored: true },
  });
  initModels(sequelize);
  return sequelize;
}

/** Creates the database named in the URL if it does not exist. */
export async function ensureDatabase(config: Config): Promise<void> {
  const url = new URL(config.databaseUrl);
  const name = databaseName(config.databaseUrl);
  url.pathname = '/';
  const admin = new Sequelize(url.toString().replace(/\/$/, ''), { dialect: 'mysql', logging: false });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.close();
  }
}
