import { Umzug, SequelizeStorage } from 'umzug';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createSequelize, ensureDatabase } from './sequelize.js';
import * as initial from './migrations/0001-initial.js';
import * as batched from './migrations/0002-batched-commits.js';
import * as claims from './migrations/0003-outbox-claims.js';
import * as security from './migrations/0004-security.js';
import * as seatRows from './migrations/0005-seat-rows.js';
import * as saleControls from './migrations/0006-sale-controls.js';
import * as fairness from './migrations/0007-fairness.js';
import * as fences from './migrations/0008-commit-fences.js';

// Migrations are listed in code (not globbed) so they work the same under tsx and in any bundle.
const migrations = [
  { name: '0001-initial', ...initial },
  { name: '0002-batched-commits', ...batched },
  { name: '0003-outbox-claims', ...claims },
  { name: '0004-security', ...security },
  { name: '0005-seat-rows', ...seatRows },
  { name: '0006-sale-controls', ...saleControls },
  { name: '0007-fairness', ...fairness },
  { name: '0008-commit-fences', ...fences },
];

/**
 * Creates the database if missing and runs pending migrations. One connection holds a MySQL named
 * lock throughout, so concurrent starters (replicas, parallel test files) are safe and idempotent.
 */
export async function migrate(config: Config, logger?: Logger): Promise<string[]> {
  await ensureDatabase(config);
  const sequelize = createSequelize(config, undefined, { max: 1, min: 0 });
  try {
    const umzug = new Umzug({
      migrations: migrations.map((m) => ({ name: m.name, up: m.up, down: m.down })),
      context: sequelize,
      storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
      logger: undefined,
    });
    const [rows] = (await sequelize.query("SELECT GET_LOCK('ticketing-migrate', 60) AS got")) as [
      { got: number }[],
      unknown,
    ];
    if (rows[0]?.got !== 1) throw new Error('could not take the migration lock within 60 s');
    try {
      const names = (await umzug.up()).map((m) => m.name);
      if (names.length) logger?.info({ migrations: names }, 'migrated');
      return names;
    } finally {
      await sequelize.query("SELECT RELEASE_LOCK('ticketing-migrate')");
    }
  } finally {
    await sequelize.close();
  }
}
