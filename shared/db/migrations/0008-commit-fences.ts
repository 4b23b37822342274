import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// The one-writer fence of a performance moves off the performance row into a table of its own. Every
// accept inserts a hold request whose foreign key reads the performance row (a shared lock), so a
// batch that locked that row made every accept of the sale wait on it, for as long as a frozen worker
// stayed frozen. No other table references `commit_fences`: only batches (and a queue restore) lock
// it. The row also says which connection holds it, and since when (`holder_conn`, `held_at`, written
// by the locking statement itself): a worker that takes a performance over reads them (READ
// UNCOMMITTED) and ends the stale holder's connection, so its transaction can never commit. `holder`
// is the worker process that last took the performance over: only it applies batches.
const statements = [
  `CREATE TABLE commit_fences (
     performance_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
     applied_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
     event_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
     holder VARCHAR(64) NOT NULL DEFAULT '',
     holder_conn BIGINT UNSIGNED NULL,
     held_at DATETIME(3) NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `INSERT INTO commit_fences (performance_id, applied_seq, event_seq)
     SELECT id, applied_seq, event_seq FROM performances`,
  `ALTER TABLE performances DROP COLUMN applied_seq, DROP COLUMN event_seq`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query(
    `ALTER TABLE performances ADD COLUMN event_seq BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER admission_capacity,
       ADD COLUMN applied_seq BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER event_seq`,
  );
  await sequelize.query(
    `UPDATE performances p JOIN commit_fences f ON f.performance_id = p.id
        SET p.applied_seq = f.applied_seq, p.event_seq = f.event_seq`,
  );
  await sequelize.query('DROP TABLE IF EXISTS commit_fences');
};
