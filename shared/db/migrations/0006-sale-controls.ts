import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// The operator's levers of a sale (MySQL keeps them; Redis carries a copy the hot paths read), and
// an index for the admin page's count of the last minute's sales. (No index on
// hold_requests.processed_at: the batch that sets it and the API's inserts would deadlock on it.)
const statements = [
  `ALTER TABLE performances ADD COLUMN sales_open_at DATETIME(3) NULL AFTER admission_capacity,
     ADD COLUMN admission_paused TINYINT(1) NOT NULL DEFAULT 0 AFTER sales_open_at,
     ADD COLUMN holds_paused TINYINT(1) NOT NULL DEFAULT 0 AFTER admission_paused`,
  `CREATE INDEX ix_tickets_performance_created ON tickets (performance_id, created_at)`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('DROP INDEX ix_tickets_performance_created ON tickets');
  await sequelize.query(
    'ALTER TABLE performances DROP COLUMN sales_open_at, DROP COLUMN admission_paused, DROP COLUMN holds_paused',
  );
};
