import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// The fence of the ordered commit path: the last queue sequence applied for a performance, written in
// the same transaction as the batch it ends. The outbox keeps what each batch must still do after its
// commit (publish, announce, schedule expiries, capture and void) until a worker has done it.
const statements = [
  `ALTER TABLE performances ADD COLUMN applied_seq BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER event_seq`,
  `CREATE TABLE commit_outbox (
    performance_id BIGINT UNSIGNED NOT NULL,
    last_seq BIGINT UNSIGNED NOT NULL,
    work MEDIUMTEXT NOT NULL,
    created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (performance_id, last_seq)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  // Recovery and the sweeper read a performance's unfinished requests in order.
  `CREATE INDEX ix_requests_performance_status ON hold_requests (performance_id, status, id)`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('DROP INDEX ix_requests_performance_status ON hold_requests');
  await sequelize.query('DROP TABLE IF EXISTS commit_outbox');
  await sequelize.query('ALTER TABLE performances DROP COLUMN applied_seq');
};
